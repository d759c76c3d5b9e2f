import 'reflect-metadata';
import { runService } from '#platform';
import { batchSubmitterService } from './batch-submitter.definition.js';

await runService(batchSubmitterService);
