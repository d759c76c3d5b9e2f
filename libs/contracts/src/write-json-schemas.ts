import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { CONTRACTS } from './registry.js';
import { ALL_TOPICS } from './topics.js';

/** Writes one JSON Schema per event so that producers in other languages can validate before publishing. */
export function writeJsonSchemas(outDir: string): string[] {
  mkdirSync(outDir, { recursive: true });
  return ALL_TOPICS.map((topic) => {
    const contract = CONTRACTS[topic];
    const schema = {
      ...z.toJSONSchema(contract.envelope, { io: 'input', unrepresentable: 'any' }),
      $id: `https://cascade.dev/schemas/${topic}.json`,
      title: `${contract.type} (${topic})`,
    };
    const file = join(outDir, `${topic}.schema.json`);
    writeFileSync(file, `${JSON.stringify(schema, null, 2)}\n`);
    return file;
  });
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) {
  const outDir = resolve(process.argv[2] ?? 'contracts/json-schema');
  for (const file of writeJsonSchemas(outDir)) console.log(`wrote ${file}`);
}
