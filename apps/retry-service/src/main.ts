import 'reflect-metadata';
import { runService } from '#platform';
import { retryServiceDefinition } from './retry-service.definition.js';

await runService(retryServiceDefinition);
