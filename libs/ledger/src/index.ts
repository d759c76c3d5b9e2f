export * from './reconcile.js';
export * from './run-report.js';
export * from './batch-ops.js';
export * from './ops-views.js';
export * from './dashboard.js';
export * from './insights.js';
export * from './insights-format.js';
export * from './insights-html.js';
