export * from './config.js';
export * from './errors.js';
export * from './custom-id.js';
export * from './params.js';
export * from './parse.js';
export * from './request-body.js';
export * from './client.js';
