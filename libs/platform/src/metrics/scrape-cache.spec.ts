import { jest } from '@jest/globals';
import { cachedRead, collectFrom } from './scrape-cache.js';

describe('cachedRead', () => {
  it('serves one read to every scrape within its time, then reads again', async () => {
    let reads = 0;
    let now = 1_000;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    const read = cachedRead(async () => ++reads, 5_000);
    expect(await Promise.all([read(), read()])).toEqual([1, 1]);
    now += 4_999;
    expect(await read()).toBe(1);
    now += 1;
    expect(await read()).toBe(2);
    jest.restoreAllMocks();
  });

  it('does not keep a failed read: the next scrape asks again', async () => {
    let fail = true;
    const read = cachedRead(async () => {
      if (fail) throw new Error('database down');
      return 'ok';
    }, 60_000);
    await expect(read()).rejects.toThrow('database down');
    fail = false;
    expect(await read()).toBe('ok');
  });
});

describe('collectFrom', () => {
  it('applies a read, and leaves the gauges as they were when the read fails', async () => {
    const applied: string[] = [];
    await collectFrom(async () => 'fresh')((value) => applied.push(value));
    await collectFrom(() => Promise.reject(new Error('broker down')))((value: string) => applied.push(value));
    expect(applied).toEqual(['fresh']);
  });
});
