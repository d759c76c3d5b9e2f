import { once } from 'node:events';
import { createWriteStream, rmSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';

export const BATCH_ENDPOINT = '/v1/chat/completions';

/** One request as we hand it to the writer: `customId` is our request id. */
export interface BatchInputLine {
  customId: string;
  body: Record<string, unknown>;
}

/** One line of a batch input file, in the provider's format. */
export type BatchInputRecord = {
  custom_id: string;
  method: 'POST';
  url: typeof BATCH_ENDPOINT;
  body: Record<string, unknown>;
};

export interface BatchInputFile {
  path: string;
  lines: number;
  bytes: number;
  /** In file order: line n of the file is `customIds[n - 1]` (batch validation errors cite line numbers). */
  customIds: string[];
}

export interface InputFileLimits {
  maxLines: number;
  maxBytes: number;
}

/** Refused before anything is uploaded: names the requests concerned. */
export class BatchInputError extends Error {
  constructor(
    message: string,
    readonly customIds: readonly string[],
  ) {
    super(message);
    this.name = 'BatchInputError';
  }
}

export function serializeLine(line: BatchInputLine): string {
  const record: BatchInputRecord = { custom_id: line.customId, method: 'POST', url: BATCH_ENDPOINT, body: line.body };
  return `${JSON.stringify(record)}\n`;
}

/** Every custom_id that occurs more than once, in order of its second occurrence. */
export function duplicateCustomIds(customIds: Iterable<string>): string[] {
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const id of customIds) {
    if (seen.has(id)) duplicates.add(id);
    else seen.add(id);
  }
  return [...duplicates];
}

function duplicateError(duplicates: readonly string[]): BatchInputError {
  const shown = duplicates.slice(0, 20).join(', ');
  const more = duplicates.length > 20 ? ` and ${duplicates.length - 20} more` : '';
  return new BatchInputError(
    `batch input refused: ${duplicates.length} custom_id(s) occur more than once (${shown}${more}); the provider would fail the whole batch`,
    duplicates,
  );
}

const WRITE_BUFFER_BYTES = 1024 * 1024;

const safeName = (name: string) => name.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 100) || 'batch-input';

/**
 * Streams request lines into JSONL files under `dir`, starting a new file whenever the next line
 * would pass the line or byte limit: split, never fail, never hold a file in memory. Duplicate
 * custom_ids are refused before the provider sees them (it would fail the whole batch at
 * validation): an array is checked before anything is written; a stream is read to its end so the
 * error can name every duplicate, and the files written so far are removed.
 */
export async function writeBatchInputFiles(
  lines: Iterable<BatchInputLine> | AsyncIterable<BatchInputLine>,
  dir: string,
  limits: InputFileLimits,
  baseName = 'batch-input',
): Promise<BatchInputFile[]> {
  if (!(limits.maxLines >= 1) || !(limits.maxBytes >= 1)) {
    throw new RangeError(`batch input limits must be positive (maxLines ${limits.maxLines}, maxBytes ${limits.maxBytes})`);
  }
  if (Array.isArray(lines)) {
    const duplicates = duplicateCustomIds((lines as BatchInputLine[]).map((line) => line.customId));
    if (duplicates.length) throw duplicateError(duplicates);
  }
  const prefix = safeName(baseName);
  const files: BatchInputFile[] = [];
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  let stream: WriteStream | null = null;
  let current: BatchInputFile | null = null;

  const discardAll = async () => {
    const open = stream;
    stream = null;
    if (open) {
      open.on('error', () => undefined);
      open.destroy();
      if (!open.closed) await once(open, 'close').catch(() => undefined);
    }
    for (const file of files) rmSync(file.path, { force: true });
  };

  try {
    for await (const line of lines) {
      if (typeof line.customId !== 'string' || line.customId === '') {
        throw new BatchInputError(`batch input refused: line ${seen.size + duplicates.size + 1} has no custom_id`, []);
      }
      if (seen.has(line.customId)) {
        if (duplicates.size === 0) await discardAll();
        duplicates.add(line.customId);
        continue;
      }
      seen.add(line.customId);
      if (duplicates.size > 0) continue;
      const text = serializeLine(line);
      const bytes = Buffer.byteLength(text);
      if (bytes > limits.maxBytes) {
        throw new BatchInputError(
          `batch input refused: request ${line.customId} alone is ${bytes} bytes, above the ${limits.maxBytes}-byte file limit`,
          [line.customId],
        );
      }
      if (!current || current.lines >= limits.maxLines || current.bytes + bytes > limits.maxBytes) {
        if (stream) {
          const full: WriteStream = stream;
          full.end();
          await once(full, 'finish');
        }
        current = { path: join(dir, `${prefix}-${files.length + 1}.jsonl`), lines: 0, bytes: 0, customIds: [] };
        files.push(current);
        // Lines are a few KB: with the default 16 KB buffer every few lines wait for a drain, and under
        // load those waits (the libuv pool is shared) made writing a 2.5 MB file take up to 1.6 s.
        stream = createWriteStream(current.path, { highWaterMark: WRITE_BUFFER_BYTES });
      }
      const out: WriteStream = stream!;
      if (!out.write(text)) await once(out, 'drain');
      current.lines++;
      current.bytes += bytes;
      current.customIds.push(line.customId);
    }
    if (duplicates.size > 0) throw duplicateError([...duplicates]);
    if (stream) {
      const last: WriteStream = stream;
      last.end();
      await once(last, 'finish');
    }
  } catch (error) {
    // Never leave a half-written file behind a refused batch.
    await discardAll();
    throw error;
  }
  return files;
}
