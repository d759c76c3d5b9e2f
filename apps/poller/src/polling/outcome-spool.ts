import { randomUUID } from 'node:crypto';
import { type FileHandle, open, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FailedRequest, partCounts, type SucceededRequest } from '#contracts';
import type { OutcomeSink } from './batch-outcome.port.js';

/** Spooled lines are written in blocks of about this size. */
const WRITE_BLOCK_BYTES = 256 * 1024;

/** The records of one kind in the spool: where each starts and how long it is (its JSON line). */
class SpooledRecords {
  readonly offsets: number[] = [];
  readonly bytes: number[] = [];

  get count(): number {
    return this.offsets.length;
  }
}

/** One message part read back from the spool. */
export interface SpooledPart<T> {
  part: number;
  parts: number;
  items: T[];
}

/**
 * The results and failures of one batch as JSON lines in a private temporary file (mode 0600, created
 * exclusively), so that finishing a 50,000-line batch holds one message part in memory at a time rather
 * than every parsed analysis. Each record's size is known as it is written, so the parts are planned
 * without reading anything back. Holds PR-derived text: never log what it reads, and `close()` it in a
 * `finally` (that deletes the file).
 */
export class OutcomeSpool implements OutcomeSink {
  private readonly results = new SpooledRecords();
  private readonly failures = new SpooledRecords();
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private written = 0;

  private constructor(
    private readonly file: FileHandle,
    readonly path: string,
  ) {}

  static async open(directory = tmpdir()): Promise<OutcomeSpool> {
    const path = join(directory, `cascade-poller-${randomUUID()}.jsonl`);
    return new OutcomeSpool(await open(path, 'wx+', 0o600), path);
  }

  get resultCount(): number {
    return this.results.count;
  }

  get failureCount(): number {
    return this.failures.count;
  }

  async succeeded(result: SucceededRequest): Promise<void> {
    await this.append(this.results, result);
  }

  async failed(failure: FailedRequest): Promise<void> {
    await this.append(this.failures, failure);
  }

  /** The results, one message part at a time, each under `maxBytes` (as `chunkBySize` would split them). */
  resultParts(maxBytes: number): AsyncGenerator<SpooledPart<SucceededRequest>> {
    return this.parts<SucceededRequest>(this.results, maxBytes);
  }

  failureParts(maxBytes: number): AsyncGenerator<SpooledPart<FailedRequest>> {
    return this.parts<FailedRequest>(this.failures, maxBytes);
  }

  /** Deletes the file; safe to call twice. */
  async close(): Promise<void> {
    this.pending = [];
    await this.file.close().catch(() => undefined);
    await unlink(this.path).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  private async append(records: SpooledRecords, record: unknown): Promise<void> {
    const line = Buffer.from(`${JSON.stringify(record)}\n`);
    records.offsets.push(this.written + this.pendingBytes);
    records.bytes.push(line.byteLength);
    this.pending.push(line);
    this.pendingBytes += line.byteLength;
    if (this.pendingBytes >= WRITE_BLOCK_BYTES) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const block = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    let done = 0;
    while (done < block.byteLength) {
      const { bytesWritten } = await this.file.write(block, done, block.byteLength - done, this.written + done);
      done += bytesWritten;
    }
    this.written += block.byteLength;
  }

  private async *parts<T>(records: SpooledRecords, maxBytes: number): AsyncGenerator<SpooledPart<T>> {
    await this.flush();
    const counts = partCounts(records.bytes, maxBytes);
    let first = 0;
    for (const [index, count] of counts.entries()) {
      yield { part: index + 1, parts: counts.length, items: await this.read<T>(records, first, first + count) };
      first += count;
    }
  }

  /** Records [from, to) of one kind; consecutive ones in the file are read together. */
  private async read<T>(records: SpooledRecords, from: number, to: number): Promise<T[]> {
    const items: T[] = [];
    let run = from;
    while (run < to) {
      let end = run + 1;
      while (end < to && records.offsets[end] === records.offsets[end - 1]! + records.bytes[end - 1]!) end++;
      const start = records.offsets[run]!;
      const length = records.offsets[end - 1]! + records.bytes[end - 1]! - start;
      const block = Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await this.file.read(block, done, length - done, start + done);
        if (bytesRead === 0) throw new Error(`outcome spool ${this.path} ends before byte ${start + length}`);
        done += bytesRead;
      }
      const lines = block.toString('utf8').split('\n');
      lines.pop();
      if (lines.length !== end - run) throw new Error(`outcome spool ${this.path}: ${lines.length} records where ${end - run} were written`);
      for (const line of lines) {
        try {
          items.push(JSON.parse(line) as T);
        } catch {
          // Never the parser's message: it quotes the line, which holds PR-derived text.
          throw new Error(`outcome spool ${this.path} holds an unreadable record`);
        }
      }
      run = end;
    }
    return items;
  }
}
