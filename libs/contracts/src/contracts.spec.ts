import { randomUUID } from 'node:crypto';
import { chunkBySize } from './chunking.js';
import { createEvent, decodeEvent, encodeEvent, HEADER_CORRELATION_ID, HEADER_TYPE, MAX_EVENT_BYTES } from './codec.js';
import { CONTRACTS } from './registry.js';
import { samplePayloads } from './testing/sample-payloads.js';
import { ALL_TOPICS, Topic } from './topics.js';

const options = { correlationId: 'corr-1', producer: 'contracts-spec' };

/** Every path to a required property of a sample value, e.g. `payload.failures.0.request.requestId`. */
function requiredPaths(schemaRoot: unknown, value: unknown, prefix: string[] = []): string[][] {
  if (Array.isArray(value)) return value.length > 0 ? requiredPaths(schemaRoot, value[0], [...prefix, '0']) : [];
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) => [[...prefix, key], ...requiredPaths(schemaRoot, child, [...prefix, key])]);
}

function without(value: unknown, path: string[]): unknown {
  const copy = structuredClone(value) as Record<string, unknown>;
  let node: Record<string, unknown> = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
  delete node[path[path.length - 1]!];
  return copy;
}

describe('event contracts', () => {
  const payloads = samplePayloads();

  describe.each(ALL_TOPICS)('%s', (topic) => {
    it('validates, serialises and decodes to the same event, with type and correlationId in headers', () => {
      const event = createEvent(topic, payloads[topic] as never, options);
      const encoded = encodeEvent(topic, event);
      expect(encoded.headers[HEADER_TYPE]).toBe(CONTRACTS[topic].type);
      expect(encoded.headers[HEADER_CORRELATION_ID]).toBe('corr-1');
      expect(encoded.key.length).toBeGreaterThan(0);
      const decoded = decodeEvent(topic, encoded.value);
      expect(decoded.ok).toBe(true);
      if (decoded.ok) expect(decoded.event).toEqual(JSON.parse(encoded.value.toString()));
    });

    it('fails validation when any required field is removed, naming the field', () => {
      const event = createEvent(topic, payloads[topic] as never, options);
      const schema = CONTRACTS[topic].envelope;
      const paths = requiredPaths(schema, event).filter((path) => {
        // A field is required when the schema rejects its removal: check each, expect most to be.
        return schema.safeParse(without(event, path)).success === false;
      });
      // Every envelope field except causationId (nullable with a default) is required.
      for (const field of ['eventId', 'type', 'version', 'occurredAt', 'correlationId', 'producer', 'payload']) {
        expect(paths.map((p) => p.join('.'))).toContain(field);
      }
      for (const path of paths) {
        const result = decodeEvent(topic, Buffer.from(JSON.stringify(without(event, path))));
        expect(result.ok).toBe(false);
        if (!result.ok) {
          expect(result.violation.path).toBe(path.join('.'));
          expect(result.violation.eventId).toBe(path.join('.') === 'eventId' ? null : event.eventId);
        }
      }
    });
  });

  it('requires the metadata of each request in every request-level payload', () => {
    const required = ['requestId', 'correlationId', 'team', 'repo', 'prNumber', 'promptVersion', 'attempt', 'contentHash'];
    const cases: Array<[Topic, string[]]> = [
      [Topic.BatchSubmitted, ['payload', 'requests', '0']],
      [Topic.BatchCompleted, ['payload', 'results', '0', 'request']],
      [Topic.RequestsFailed, ['payload', 'failures', '0', 'request']],
      [Topic.RequestsFailedPermanently, ['payload', 'failures', '0', 'request']],
      [Topic.ResultsMerged, ['payload', 'resolved', '0', 'request']],
    ];
    for (const [topic, base] of cases) {
      const event = createEvent(topic, payloads[topic] as never, options);
      for (const field of required) {
        const result = decodeEvent(topic, Buffer.from(JSON.stringify(without(event, [...base, field]))));
        expect(result.ok).toBe(false);
      }
    }
  });

  it('rejects non-JSON, empty and oversized messages without throwing', () => {
    expect(decodeEvent(Topic.PrIngested, Buffer.from('{not json')).ok).toBe(false);
    expect(decodeEvent(Topic.PrIngested, null).ok).toBe(false);
    const big = decodeEvent(Topic.PrIngested, Buffer.alloc(2 * 1024 * 1024, 'a'));
    expect(big.ok).toBe(false);
    if (!big.ok) expect(big.violation.reason).toMatch(/above/);
  });

  it('refuses to produce an invalid or oversized event', () => {
    const event = createEvent(Topic.PrIngested, { ...payloads[Topic.PrIngested], prNumber: -1 }, options);
    expect(() => encodeEvent(Topic.PrIngested, event)).toThrow(/prNumber/);
    const failures = Array.from({ length: 400 }, () => ({
      ...payloads[Topic.RequestsFailed].failures[0]!,
      failedGeneration: 'x'.repeat(4_000),
    }));
    const huge = createEvent(Topic.RequestsFailed, { ...payloads[Topic.RequestsFailed], failures }, options);
    expect(() => encodeEvent(Topic.RequestsFailed, huge)).toThrow(/split it into parts/);
  });

  it('chunks large lists into parts under the limit without losing an item', () => {
    const failures = Array.from({ length: 400 }, (_, i) => ({
      ...payloads[Topic.RequestsFailed].failures[0]!,
      request: { ...payloads[Topic.RequestsFailed].failures[0]!.request, requestId: `r-${i}` },
      failedGeneration: 'x'.repeat(4_000),
    }));
    const parts = chunkBySize(failures, MAX_EVENT_BYTES);
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.flat().map((f) => f.request.requestId)).toEqual(failures.map((f) => f.request.requestId));
    parts.forEach((chunk, index) => {
      const event = createEvent(
        Topic.RequestsFailed,
        { ...payloads[Topic.RequestsFailed], failures: chunk, part: index + 1, parts: parts.length },
        { ...options, eventId: randomUUID() },
      );
      expect(encodeEvent(Topic.RequestsFailed, event).value.byteLength).toBeLessThanOrEqual(MAX_EVENT_BYTES);
    });
  });
});
