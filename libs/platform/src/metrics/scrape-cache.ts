/**
 * One read shared by the gauges of a scrape, cached for `cacheMs`: a scrape storm must not become a query storm.
 * A failed read is not cached, so the next scrape asks again.
 */
export function cachedRead<T>(read: () => Promise<T>, cacheMs = 5_000): () => Promise<T> {
  let cached: { at: number; value: Promise<T> } | null = null;
  return () => {
    if (cached && Date.now() - cached.at < cacheMs) return cached.value;
    const value = read();
    cached = { at: Date.now(), value };
    value.catch(() => {
      if (cached?.value === value) cached = null;
    });
    return value;
  };
}

/**
 * Applies a cached read to the gauges at collect time. When the database or broker cannot be read, /health/ready
 * says so and the gauges keep their last values.
 */
export function collectFrom<T>(read: () => Promise<T>): (apply: (value: T) => void) => Promise<void> {
  return async (apply) => {
    let value: T;
    try {
      value = await read();
    } catch {
      return;
    }
    apply(value);
  };
}
