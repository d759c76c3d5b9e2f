import { z } from 'zod';
import { createEvent, decodeEvent, encodeEvent } from './codec.js';
import { CONTRACTS } from './registry.js';
import { Int32, INT32_MAX, IsoDateTime, isStorableText, NonNegativeInt, normaliseText, PositiveInt, RequestId, text } from './primitives.js';
import { samplePayloads } from './testing/sample-payloads.js';
import { ALL_TOPICS, Topic } from './topics.js';

describe('contract primitives: what passes can be stored', () => {
  it('normalises text: NUL removed, lone surrogates replaced by U+FFFD, pairs and other characters kept', () => {
    expect(normaliseText('a\u0000b\u0000')).toBe('ab');
    expect(normaliseText('x\uD800y')).toBe('x\uFFFDy');
    expect(normaliseText('\uDC00 tail')).toBe('\uFFFD tail');
    expect(normaliseText('emoji 🚀 \u0007 ünï')).toBe('emoji 🚀 \u0007 ünï');
    expect(isStorableText(normaliseText('\u0000\uDBFF\uD800'))).toBe(true);
    expect(isStorableText('a\u0000')).toBe(false);
    expect(isStorableText('\uD83D')).toBe(false);
    expect(isStorableText('🚀')).toBe(true);
  });

  it('checks the bounds of text after normalising it', () => {
    const schema = text({ min: 1, max: 3 });
    expect(schema.parse('ab\u0000c')).toBe('abc');
    expect(schema.safeParse('\u0000\u0000').success).toBe(false);
    expect(schema.safeParse('abcd').success).toBe(false);
  });

  it('refuses identifiers it cannot store rather than rewriting them', () => {
    expect(RequestId.safeParse('acme/api#1').success).toBe(true);
    expect(RequestId.safeParse('a\u0000b').success).toBe(false);
    const surrogate = RequestId.safeParse('a\uD800b');
    expect(surrogate.success).toBe(false);
    expect(surrogate.error?.issues[0]?.message).toMatch(/lone surrogate/);
  });

  it('bounds integers to a PostgreSQL integer column', () => {
    expect(PositiveInt.safeParse(INT32_MAX).success).toBe(true);
    expect(PositiveInt.safeParse(INT32_MAX + 1).success).toBe(false);
    expect(PositiveInt.safeParse(3_000_000_000).success).toBe(false);
    expect(NonNegativeInt.safeParse(0).success).toBe(true);
    expect(NonNegativeInt.safeParse(2 ** 31).success).toBe(false);
    expect(Int32.safeParse(-(2 ** 31)).success).toBe(true);
    expect(Int32.safeParse(-(2 ** 31) - 1).success).toBe(false);
  });

  it('bounds date-times to 1970..9999 UTC and real time-zone offsets', () => {
    for (const ok of ['1970-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z', '2024-02-29T12:00:00+14:00', '2024-06-01T00:00:00-12:00', '1970-01-01T05:30:00+05:30']) {
      expect([ok, IsoDateTime.safeParse(ok).success]).toEqual([ok, true]);
    }
    for (const bad of ['0000-01-01T00:00:00Z', '1969-12-31T23:59:59Z', '1970-01-01T00:00:00+01:00', '9999-12-31T23:59:59-05:00', '2024-01-01T00:00:00+16:00', '2023-02-29T00:00:00Z']) {
      expect([bad, IsoDateTime.safeParse(bad).success]).toEqual([bad, false]);
    }
    expect(IsoDateTime.safeParse('0000-01-01T00:00:00Z').error?.issues[0]?.message).toMatch(/between 1970-01-01/);
  });

  it('normalises every string of an event, envelope included, on the way in and out', () => {
    const payload = { ...samplePayloads()[Topic.PrIngested], team: 'pla\u0000tform', title: 'half \uD800 pair', body: 'body \uDFFF' };
    const event = createEvent(Topic.PrIngested, payload, { correlationId: 'corr\u0000-1', producer: 'spec' });
    const raw = Buffer.from(JSON.stringify(event));
    const decoded = decodeEvent(Topic.PrIngested, raw);
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    expect(decoded.event.correlationId).toBe('corr-1');
    expect(decoded.event.payload).toMatchObject({ team: 'platform', title: 'half \uFFFD pair', body: 'body \uFFFD' });
    const encoded = JSON.parse(encodeEvent(Topic.PrIngested, event).value.toString()) as typeof event;
    expect(encoded.correlationId).toBe('corr-1');
    expect(encoded.payload.team).toBe('platform');
  });

  it('leaves no plain string in any contract: every string leaf normalises or refuses NUL and lone surrogates', () => {
    const leaves: Array<{ path: string; schema: z.ZodType }> = [];
    const walk = (schema: z.ZodType, path: string): void => {
      const def = (schema as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
      if (def.type === 'string') leaves.push({ path, schema });
      else if (def.type === 'object') for (const [key, child] of Object.entries(def.shape as Record<string, z.ZodType>)) walk(child, `${path}.${key}`);
      else if (def.type === 'array') walk(def.element as z.ZodType, `${path}[]`);
      else if (['optional', 'nullable', 'default', 'prefault'].includes(def.type)) walk(def.innerType as z.ZodType, path);
      else if (def.type === 'pipe') walk(def.in as z.ZodType, path);
    };
    for (const topic of ALL_TOPICS) walk(CONTRACTS[topic].envelope, topic);
    expect(leaves.length).toBeGreaterThan(50);
    for (const { path, schema } of leaves) {
      for (const probe of ['ab\u0000cd', 'ab\uD800cd']) {
        const parsed = schema.safeParse(probe);
        expect([path, parsed.success ? isStorableText(parsed.data as string) : 'refused']).not.toEqual([path, false]);
      }
    }
    expect(z.string().safeParse('\u0000').success).toBe(true);
  });
});
