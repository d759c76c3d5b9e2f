import { batchKeyOf } from './batch-key.js';

describe('batchKeyOf', () => {
  const items = [
    { requestId: 'acme/api#2', attempt: 1 },
    { requestId: 'acme/api#1', attempt: 1 },
  ];
  it('is the same for the same items in any order', () => {
    expect(batchKeyOf(1, 'm', 'v1', items)).toBe(batchKeyOf(1, 'm', 'v1', [...items].reverse()));
  });
  it('changes with the attempt, the pass, the model or the prompt version', () => {
    const key = batchKeyOf(1, 'm', 'v1', items);
    expect(batchKeyOf(1, 'm', 'v1', [{ ...items[0]!, attempt: 2 }, items[1]!])).not.toBe(key);
    expect(batchKeyOf(2, 'm', 'v1', items)).not.toBe(key);
    expect(batchKeyOf(1, 'n', 'v1', items)).not.toBe(key);
    expect(batchKeyOf(1, 'm', 'v2', items)).not.toBe(key);
  });
});
