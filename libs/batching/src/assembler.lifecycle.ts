import { type BeforeApplicationShutdown, Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { BatchAssembler } from './batch-assembler.js';

/** Starts the assembler with the app and stops it before the database closes. */
@Injectable()
export class AssemblerLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(@Inject(BatchAssembler) private readonly assembler: BatchAssembler) {}

  onApplicationBootstrap(): void {
    this.assembler.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.assembler.stop();
  }
}
