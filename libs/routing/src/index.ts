export * from './features.js';
export * from './classifier.js';
export * from './decision.js';
