/**
 * Resolves the project's `#` imports (package.json "imports") to their TypeScript sources, for the project's
 * own files only: packages have `#` imports of their own (OpenTelemetry's `#platform`), which a global
 * moduleNameMapper entry would capture.
 */
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');
const SOURCES = {
  '#contracts': 'libs/contracts/src/index.ts',
  '#contracts/testing': 'libs/contracts/src/testing/sample-payloads.ts',
  '#platform': 'libs/platform/src/index.ts',
  '#platform/launch': 'libs/platform/src/bootstrap/launch.ts',
  '#batching': 'libs/batching/src/index.ts',
  '#ledger': 'libs/ledger/src/index.ts',
  '#routing': 'libs/routing/src/index.ts',
  '#groq-batch': 'libs/groq-batch/src/index.ts',
  '#anthropic-batch': 'libs/anthropic-batch/src/index.ts',
};

export default function resolve(request, options) {
  const source = SOURCES[request];
  if (source && !options.basedir.split(path.sep).includes('node_modules')) return path.join(root, source);
  return options.defaultResolver(request, options);
}
