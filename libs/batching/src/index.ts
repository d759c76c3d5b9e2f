export * from './provider-port.js';
export * from './batch-key.js';
export * from './batch.repository.js';
export * from './batch-assembler.js';
export * from './pipeline-settings.js';
export * from './groq-provider.js';
export * from './assembler.lifecycle.js';
export * from './assembler.provider.js';
