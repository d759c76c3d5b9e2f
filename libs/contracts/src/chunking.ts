/**
 * Splits a list into parts whose serialised size stays under `maxBytes`, never dropping an item.
 * Sizes are measured per item, so one pass and no trial serialisation of whole messages.
 */
export function chunkBySize<T>(items: readonly T[], maxBytes: number, overheadBytes = 4_096): T[][] {
  const budget = maxBytes - overheadBytes;
  const parts: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const item of items) {
    const itemBytes = Buffer.byteLength(JSON.stringify(item)) + 1;
    if (itemBytes > budget) {
      throw new Error(`one item is ${itemBytes} bytes, above the ${budget}-byte budget of a message part`);
    }
    if (current.length > 0 && size + itemBytes > budget) {
      parts.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += itemBytes;
  }
  if (current.length > 0) parts.push(current);
  return parts;
}
