import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { serviceEnvSchema } from '#platform';
import type { ZodObject } from 'zod';
import { batchSubmitterService } from '../../apps/batch-submitter/src/batch-submitter.definition.js';
import { cliEnv } from '../../apps/cli/src/cli-context.js';
import { pollerDefinition } from '../../apps/poller/src/poller.definition.js';
import { resultWriterService } from '../../apps/result-writer/src/result-writer.definition.js';
import { retryServiceDefinition } from '../../apps/retry-service/src/retry-service.definition.js';

/**
 * The README's variable tables are what operators configure from: every variable a service or the CLI
 * validates has a row, and every row names a variable something reads. The schemas own the variables;
 * this only checks the README against them.
 */
const root = resolve(import.meta.dirname, '../..');

/** Every schema a process parses its environment with (a service's, as loadServiceConfig builds it). */
const SCHEMAS: Record<string, ZodObject> = {
  'batch-submitter': serviceEnvSchema(batchSubmitterService.env),
  poller: serviceEnvSchema(pollerDefinition.env),
  'retry-service': serviceEnvSchema(retryServiceDefinition.env),
  'result-writer': serviceEnvSchema(resultWriterService.env),
  cli: cliEnv,
};

/** Documented variables no zod schema reads, with who reads them. */
const README_ONLY = new Set([
  // The Dockerfile's CMD and the demo's local stack turn it into node's --max-old-space-size.
  'NODE_HEAP_MB',
]);

const VARIABLE = /^[A-Z][A-Z0-9_]*$/;

/** Backticked variable names in the first cell of every table row (`A` / `B` names two). */
function readmeTableVariables(markdown: string): Set<string> {
  const names = new Set<string>();
  for (const line of markdown.split('\n')) {
    const firstCell = /^\|([^|]*)\|/.exec(line)?.[1];
    if (firstCell === undefined) continue;
    for (const part of firstCell.split(' / ')) {
      const name = /^\s*`([^`]+)`\s*$/.exec(part)?.[1];
      if (name !== undefined && VARIABLE.test(name)) names.add(name);
    }
  }
  return names;
}

function schemaVariables(): Set<string> {
  return new Set(Object.values(SCHEMAS).flatMap((schema) => Object.keys(schema.shape)));
}

describe('README configuration tables', () => {
  const documented = readmeTableVariables(readFileSync(resolve(root, 'README.md'), 'utf8'));
  const validated = schemaVariables();

  it('finds the tables and the schemas', () => {
    expect(documented.has('KAFKA_BROKERS')).toBe(true);
    expect(documented.has('KAFKA_REPLICATION_FACTOR')).toBe(true);
    expect(validated.has('GROQ_API_KEY')).toBe(true);
  });

  it('has a row for every variable a service or the CLI validates', () => {
    expect([...validated].filter((name) => !documented.has(name)).sort()).toEqual([]);
  });

  it('names no variable that nothing reads', () => {
    expect([...documented].filter((name) => !validated.has(name) && !README_ONLY.has(name)).sort()).toEqual([]);
  });

  it('keeps the README-only list to variables the README still names and no schema reads', () => {
    expect([...README_ONLY].filter((name) => !documented.has(name) || validated.has(name))).toEqual([]);
  });
});
