import { Topic } from '#contracts';
import type { ServiceDefinition } from '#platform';
import { Module } from '@nestjs/common';
import { z } from 'zod';
import { MergeController } from './merge/merge.controller.js';
import { MergeService } from './merge/merge.service.js';
import { ResultRepository } from './merge/result.repository.js';
import { resultWriterIdentity } from './result-writer.identity.js';

@Module({})
export class ResultWriterModule {}

export const resultWriterEnv = z.object({});

export const resultWriterService: ServiceDefinition<typeof resultWriterEnv> = {
  identity: resultWriterIdentity,
  env: resultWriterEnv,
  consumes: [Topic.BatchCompleted, Topic.RequestsFailedPermanently, Topic.RequestsSettled],
  module: (platform) => ({
    module: ResultWriterModule,
    imports: [platform],
    controllers: [MergeController],
    providers: [ResultRepository, MergeService],
  }),
};
