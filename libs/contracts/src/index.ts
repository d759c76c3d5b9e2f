export * from './topics.js';
export * from './primitives.js';
export * from './envelope.js';
export * from './registry.js';
export * from './codec.js';
export * from './chunking.js';
export * from './events/pr-ingested/pr-ingested.event.js';
export * from './events/batch-submitted/batch-submitted.event.js';
export * from './events/batch-completed/batch-completed.event.js';
export * from './events/requests-failed/requests-failed.event.js';
export * from './events/requests-failed-permanently/requests-failed-permanently.event.js';
export * from './events/requests-settled/requests-settled.event.js';
export * from './events/results-merged/results-merged.event.js';

