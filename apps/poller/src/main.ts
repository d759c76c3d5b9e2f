import 'reflect-metadata';
import { runService } from '#platform';
import { pollerDefinition } from './poller.definition.js';

await runService(pollerDefinition);
