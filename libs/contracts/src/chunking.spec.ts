import { chunkBySize, partBytes, partCounts } from './chunking.js';

describe('chunking by size', () => {
  it('sizes an item as its JSON and a separator: a spooled JSON line', () => {
    expect(partBytes({ a: 'é' })).toBe(Buffer.byteLength('{"a":"é"}\n'));
  });

  it('counts consecutive items per part under the budget, never dropping one', () => {
    // Budget 100 - 10 = 90 bytes: 40 + 40 fit, the third starts a part, the 90 fills one alone.
    expect(partCounts([40, 40, 40, 90, 1], 100, 10)).toEqual([2, 1, 1, 1]);
    expect(partCounts([], 100, 10)).toEqual([]);
    expect(() => partCounts([91], 100, 10)).toThrow('one item is 91 bytes, above the 90-byte budget');
  });

  it('splits items in memory the way it counts sizes', () => {
    const items = Array.from({ length: 50 }, (_, i) => ({ id: i, text: 'x'.repeat(i * 7) }));
    const parts = chunkBySize(items, 2_000, 100);
    expect(parts.map((part) => part.length)).toEqual(partCounts(items.map(partBytes), 2_000, 100));
    expect(parts.flat()).toEqual(items);
  });
});
