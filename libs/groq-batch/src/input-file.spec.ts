import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchInputError, duplicateCustomIds, serializeLine, writeBatchInputFiles } from './input-file.js';

describe('writeBatchInputFiles', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'input-files-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const line = (i: number) => ({ customId: `r-${i}`, body: { model: 'm', messages: [{ role: 'user', content: 'x'.repeat(100) }] } });

  it('writes one JSONL request per line in the provider format', async () => {
    const [file] = await writeBatchInputFiles([line(0), line(1)], dir, { maxLines: 10, maxBytes: 1e9 }, 'format');
    const lines = readFileSync(file!.path, 'utf8').split('\n');
    expect(lines.at(-1)).toBe('');
    expect(JSON.parse(lines[0]!)).toEqual({ custom_id: 'r-0', method: 'POST', url: '/v1/chat/completions', body: line(0).body });
    expect(file).toMatchObject({ lines: 2, bytes: Buffer.byteLength(readFileSync(file!.path)), customIds: ['r-0', 'r-1'] });
  });

  it('splits by lines instead of failing, keeping the order', async () => {
    const files = await writeBatchInputFiles(Array.from({ length: 25 }, (_, i) => line(i)), dir, { maxLines: 10, maxBytes: 1e9 }, 'lines');
    expect(files.map((f) => f.lines)).toEqual([10, 10, 5]);
    expect(files.map((f) => f.path.split('/').pop())).toEqual(['lines-1.jsonl', 'lines-2.jsonl', 'lines-3.jsonl']);
    expect(files.flatMap((f) => f.customIds)).toEqual(Array.from({ length: 25 }, (_, i) => `r-${i}`));
  });

  it('splits by bytes, every file within the limit, from a stream', async () => {
    async function* stream() {
      for (let i = 0; i < 10; i++) yield line(i);
    }
    const files = await writeBatchInputFiles(stream(), dir, { maxLines: 1_000, maxBytes: 700 }, 'bytes');
    const perFile = Math.floor(700 / Buffer.byteLength(serializeLine(line(0))));
    expect(perFile).toBe(3);
    expect(files.map((f) => f.lines)).toEqual([3, 3, 3, 1]);
    for (const file of files) {
      expect(file.bytes).toBeLessThanOrEqual(700);
      expect(readFileSync(file.path).length).toBe(file.bytes);
    }
    expect(files.flatMap((f) => f.customIds)).toEqual(Array.from({ length: 10 }, (_, i) => `r-${i}`));
  });

  it('refuses duplicate custom_ids up front, naming every one, and writes nothing', async () => {
    const lines = [line(1), line(2), line(1), line(3), line(2)];
    const error = await writeBatchInputFiles(lines, dir, { maxLines: 10, maxBytes: 1e9 }, 'dup').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BatchInputError);
    expect((error as BatchInputError).customIds).toEqual(['r-1', 'r-2']);
    expect((error as Error).message).toMatch(/2 custom_id\(s\) occur more than once \(r-1, r-2\)/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses duplicates in a stream too, and removes what it had written', async () => {
    async function* stream() {
      for (let i = 0; i < 30; i++) yield line(i);
      yield line(4);
      yield line(31);
    }
    await expect(writeBatchInputFiles(stream(), dir, { maxLines: 10, maxBytes: 1e9 }, 'dup-stream')).rejects.toThrow(/\(r-4\)/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a single request larger than a whole file, naming it', async () => {
    await expect(writeBatchInputFiles([line(1)], dir, { maxLines: 10, maxBytes: 100 }, 'big')).rejects.toThrow(/request r-1 alone is \d+ bytes, above the 100-byte file limit/);
    expect(existsSync(join(dir, 'big-1.jsonl'))).toBe(false);
  });

  it('keeps file names safe whatever the batch key', async () => {
    const [file] = await writeBatchInputFiles([line(1)], dir, { maxLines: 10, maxBytes: 1e9 }, '../pass:1/acme api');
    expect(file!.path).toBe(join(dir, '.._pass_1_acme_api-1.jsonl'));
  });
});

describe('duplicateCustomIds', () => {
  it('lists each repeated id once', () => {
    expect(duplicateCustomIds(['a', 'b', 'a', 'a', 'c', 'b'])).toEqual(['a', 'b']);
    expect(duplicateCustomIds([])).toEqual([]);
  });
});
