import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { createEvent } from './codec.js';
import { samplePayloads } from './testing/sample-payloads.js';
import { ALL_TOPICS } from './topics.js';
import { jsonSchemaOf } from './write-json-schemas.js';

const root = resolve(import.meta.dirname, '../../..');

describe('exported JSON Schemas', () => {
  it.each(ALL_TOPICS)('%s: the committed file is current and accepts a valid event, rejects a broken one', (topic) => {
    const committed = JSON.parse(readFileSync(resolve(root, `contracts/json-schema/${topic}.schema.json`), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(jsonSchemaOf(topic))));
    const validate = new Ajv2020({ strict: false, logger: false }).compile(committed);
    const event = JSON.parse(JSON.stringify(createEvent(topic, samplePayloads()[topic] as never, { correlationId: 'c', producer: 'p' })));
    expect(validate(event)).toBe(true);
    delete event.payload[Object.keys(event.payload)[0]!];
    expect(validate(event)).toBe(false);
  });
});
