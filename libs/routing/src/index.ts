export * from './features.js';
export * from './classifier.js';
export * from './decision.js';
export * from './training.js';
export * from './router.repository.js';
export * from './metrics-format.js';
export * from './router-report.js';
