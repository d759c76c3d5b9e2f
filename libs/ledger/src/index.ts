export * from './reconcile.js';
export * from './run-report.js';
