import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chunkBySize, type FailedRequest, type SucceededRequest, Topic } from '#contracts';
import { samplePayloads } from '#contracts/testing';
import { OutcomeSpool } from './outcome-spool.js';

const payloads = samplePayloads();
const result = (i: number): SucceededRequest => {
  const sample = payloads[Topic.BatchCompleted].results[0]!;
  return { ...sample, request: { ...sample.request, requestId: `r-${i}` }, analysis: { ...sample.analysis, summary: `PR ${i} ${'é'.repeat(i % 50)}` } };
};
const failure = (i: number): FailedRequest => {
  const sample = payloads[Topic.RequestsFailed].failures[0]!;
  return { ...sample, request: { ...sample.request, requestId: `f-${i}` }, failedGeneration: 'x'.repeat(500 + i) };
};

async function collect<T>(parts: AsyncIterable<{ part: number; parts: number; items: T[] }>) {
  const read: Array<{ part: number; parts: number; items: T[] }> = [];
  for await (const part of parts) read.push(part);
  return read;
}

describe('outcome spool', () => {
  let directory: string;
  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'outcome-spool-spec-'));
  });
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  it('reads back results and failures, written interleaved, in the parts chunkBySize makes of them', async () => {
    const results = Array.from({ length: 3_000 }, (_, i) => result(i));
    const failures = Array.from({ length: 400 }, (_, i) => failure(i));
    const spool = await OutcomeSpool.open(directory);
    try {
      for (const [i, item] of results.entries()) {
        await spool.succeeded(item);
        if (i % 7 === 0 && i / 7 < failures.length) await spool.failed(failures[i / 7]!);
      }
      for (const item of failures.slice(Math.ceil(3_000 / 7))) await spool.failed(item);
      expect([spool.resultCount, spool.failureCount]).toEqual([3_000, 400]);

      const maxBytes = 60_000;
      const resultParts = await collect(spool.resultParts(maxBytes));
      const expected = chunkBySize(results, maxBytes);
      expect(expected.length).toBeGreaterThan(3);
      expect(resultParts.map((p) => p.items)).toEqual(expected);
      expect(resultParts.map((p) => [p.part, p.parts])).toEqual(expected.map((_, i) => [i + 1, expected.length]));
      expect((await collect(spool.failureParts(maxBytes))).map((p) => p.items)).toEqual(chunkBySize(failures, maxBytes));
      // Read twice (a transaction retried): the same parts.
      expect((await collect(spool.resultParts(maxBytes))).map((p) => p.items)).toEqual(expected);
    } finally {
      await spool.close();
    }
  });

  it('is a file only its owner can read, deleted on close', async () => {
    const spool = await OutcomeSpool.open(directory);
    await spool.succeeded(result(1));
    expect(statSync(spool.path).mode & 0o777).toBe(0o600);
    await spool.close();
    expect(existsSync(spool.path)).toBe(false);
    await spool.close();
  });

  it('has no parts when nothing was spooled', async () => {
    const spool = await OutcomeSpool.open(directory);
    try {
      expect(await collect(spool.resultParts(1_000_000))).toEqual([]);
      expect(await collect(spool.failureParts(1_000_000))).toEqual([]);
    } finally {
      await spool.close();
    }
  });

  it('never quotes a damaged record in its error: the text is PR-derived', async () => {
    const spool = await OutcomeSpool.open(directory);
    try {
      await spool.succeeded(result(1));
      await collect(spool.resultParts(1_000_000));
      // Same length, so the read succeeds and the parse fails.
      const size = statSync(spool.path).size;
      writeFileSync(spool.path, `{"secret PR text${' '.repeat(size - 17)}\n`);
      const error = await collect(spool.resultParts(1_000_000)).then(
        () => null,
        (e: unknown) => e as Error,
      );
      expect(error?.message).toMatch(/outcome spool .* holds an unreadable record$/);
      expect(error?.message).not.toContain('secret');
    } finally {
      await spool.close();
    }
  });
});
