/** What one item adds to a message part: its JSON and a separator (a spooled JSON line is exactly this long). */
export const partBytes = (item: unknown): number => Buffer.byteLength(JSON.stringify(item)) + 1;

/**
 * How many consecutive items each part takes, given each item's serialised size (`partBytes`), so that a
 * part stays under `maxBytes`, never dropping an item. For items that are not all in memory at once: the
 * poller spools a batch's answers and sizes them as it writes them.
 */
export function partCounts(itemBytes: Iterable<number>, maxBytes: number, overheadBytes = 4_096): number[] {
  const budget = maxBytes - overheadBytes;
  const counts: number[] = [];
  let count = 0;
  let size = 0;
  for (const bytes of itemBytes) {
    if (bytes > budget) {
      throw new Error(`one item is ${bytes} bytes, above the ${budget}-byte budget of a message part`);
    }
    if (count > 0 && size + bytes > budget) {
      counts.push(count);
      count = 0;
      size = 0;
    }
    count++;
    size += bytes;
  }
  if (count > 0) counts.push(count);
  return counts;
}

/**
 * Splits a list into parts whose serialised size stays under `maxBytes`, never dropping an item.
 * Sizes are measured per item, so one pass and no trial serialisation of whole messages.
 */
export function chunkBySize<T>(items: readonly T[], maxBytes: number, overheadBytes = 4_096): T[][] {
  const parts: T[][] = [];
  let start = 0;
  for (const count of partCounts(items.map(partBytes), maxBytes, overheadBytes)) {
    parts.push(items.slice(start, start + count));
    start += count;
  }
  return parts;
}
