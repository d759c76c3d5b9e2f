import { batchKeyOf } from '#batching';
import { ANTHROPIC_CUSTOM_ID_PATTERN, anthropicCustomId, batchKeyTag, batchKeyTagOf, customIdMap } from './custom-id.js';

const KEY = batchKeyOf(1, 'claude-haiku-4-5', 'pr-analysis-v1', [{ requestId: 'a', attempt: 1 }]);

describe('anthropicCustomId', () => {
  it('is <16 hex of the key>-<22 base64url of the request id>, within Anthropic’s pattern', () => {
    const id = anthropicCustomId(KEY, 'github:acme/api#42 ✓ with spaces and / slashes'.padEnd(200, 'x'));
    expect(id).toMatch(/^[0-9a-f]{16}-[A-Za-z0-9_-]{22}$/);
    expect(id).toMatch(ANTHROPIC_CUSTOM_ID_PATTERN);
    expect(id.startsWith(KEY.slice('cascade-'.length, 'cascade-'.length + 16))).toBe(true);
  });

  it('is stable, and differs between request ids and between keys', () => {
    const other = batchKeyOf(2, 'claude-haiku-4-5', 'pr-analysis-v1', [{ requestId: 'a', attempt: 1 }]);
    expect(anthropicCustomId(KEY, 'r1')).toBe(anthropicCustomId(KEY, 'r1'));
    expect(anthropicCustomId(KEY, 'r1')).not.toBe(anthropicCustomId(KEY, 'r2'));
    expect(anthropicCustomId(KEY, 'r1')).not.toBe(anthropicCustomId(other, 'r1'));
  });

  it('refuses a string that is not a batch key', () => {
    expect(() => anthropicCustomId('cascade-xyz', 'r1')).toThrow(/not a batch key/);
    expect(() => batchKeyTag('some-key')).toThrow(RangeError);
  });
});

describe('batchKeyTagOf', () => {
  it('reads the tag back, and null from a custom_id that is not ours', () => {
    expect(batchKeyTagOf(anthropicCustomId(KEY, 'r1'))).toBe(batchKeyTag(KEY));
    expect(batchKeyTagOf('pr-42')).toBeNull();
    expect(batchKeyTagOf(`${batchKeyTag(KEY)}-short`)).toBeNull();
  });
});

describe('customIdMap', () => {
  it('maps every custom_id back to its request id', () => {
    const ids = Array.from({ length: 5_000 }, (_, i) => `request-${i}`);
    const map = customIdMap(KEY, ids);
    expect(map.size).toBe(5_000);
    expect(map.get(anthropicCustomId(KEY, 'request-7'))).toBe('request-7');
  });

  it('takes a request id given twice as one (a real collision of 132-bit digests cannot be built for a test)', () => {
    expect(customIdMap(KEY, ['a', 'a']).size).toBe(1);
  });
});
