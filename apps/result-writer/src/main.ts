import 'reflect-metadata';
import { runService } from '#platform';
import { resultWriterService } from './result-writer.definition.js';

await runService(resultWriterService);
