export * from './reconcile.js';
export * from './run-report.js';
export * from './batch-ops.js';
export * from './ops-views.js';
export * from './dashboard.js';
