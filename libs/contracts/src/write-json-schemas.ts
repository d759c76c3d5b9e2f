import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { CONTRACTS } from './registry.js';
import { ALL_TOPICS } from './topics.js';

/** Writes one JSON Schema per event so that producers in other languages can validate before publishing. */
export function jsonSchemaOf(topic: (typeof ALL_TOPICS)[number]): Record<string, unknown> {
  const contract = CONTRACTS[topic];
  return {
    ...z.toJSONSchema(contract.envelope, { io: 'input', unrepresentable: 'any' }),
    $id: `https://cascade.dev/schemas/${topic}.json`,
    title: `${contract.type} (${topic})`,
  };
}

export function writeJsonSchemas(outDir: string): string[] {
  mkdirSync(outDir, { recursive: true });
  return ALL_TOPICS.map((topic) => {
    const schema = jsonSchemaOf(topic);
    const file = join(outDir, `${topic}.schema.json`);
    writeFileSync(file, `${JSON.stringify(schema, null, 2)}\n`);
    return file;
  });
}
