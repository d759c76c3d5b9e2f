import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';

export interface MultipartUpload {
  fields: Record<string, string>;
  file: { field: string; filename: string; path: string; bytes: number } | null;
}

/** Why an upload was refused, with the HTTP status the Files API answers. */
export class MultipartError extends Error {
  constructor(
    readonly status: 400 | 413,
    message: string,
  ) {
    super(message);
  }
}

const MAX_PART_HEADERS = 16 * 1024;
const MAX_FIELD_BYTES = 64 * 1024;

export function multipartBoundary(contentType: string | undefined): string | null {
  const match = /^multipart\/form-data\s*;.*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  return match ? (match[1] ?? match[2] ?? null) : null;
}

/**
 * A streaming multipart/form-data parser: the file part goes straight to disk, so a 100 MB upload never
 * sits in memory; at most one network chunk plus a delimiter's length is held. Reads only what the Files
 * API needs: text fields and one file.
 */
class MultipartParser {
  readonly result: MultipartUpload = { fields: {}, file: null };
  state: 'preamble' | 'headers' | 'body' | 'done' = 'preamble';
  private readonly delimiter: Buffer;
  // The first delimiter has no leading CRLF: pretend there was one.
  private pending: Buffer = Buffer.from('\r\n');
  private fieldName: string | null = null;
  private fieldChunks: Buffer[] = [];
  private fieldBytes = 0;
  private sink: WriteStream | null = null;
  private sinkError: Error | null = null;

  constructor(
    boundary: string,
    private readonly filePath: string,
    private readonly maxFileBytes: number,
  ) {
    this.delimiter = Buffer.from(`\r\n--${boundary}`);
  }

  async push(chunk: Buffer): Promise<void> {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    for (;;) {
      if (this.state === 'preamble') {
        const at = this.pending.indexOf(this.delimiter);
        if (at < 0) {
          this.pending = this.pending.subarray(Math.max(0, this.pending.length - this.delimiter.length));
          return;
        }
        this.pending = this.pending.subarray(at + this.delimiter.length);
        this.state = 'headers';
      } else if (this.state === 'headers') {
        if (this.pending.length < 2) return;
        if (this.pending[0] === 0x2d && this.pending[1] === 0x2d) {
          this.state = 'done';
          return;
        }
        const end = this.pending.indexOf('\r\n\r\n');
        if (end < 0) {
          if (this.pending.length > MAX_PART_HEADERS) throw new MultipartError(400, 'multipart part headers are too long');
          return;
        }
        this.startPart(this.pending.subarray(0, end).toString('utf8'));
        this.pending = this.pending.subarray(end + 4);
        this.state = 'body';
      } else if (this.state === 'body') {
        const at = this.pending.indexOf(this.delimiter);
        if (at >= 0) {
          await this.take(this.pending.subarray(0, at));
          await this.endPart();
          this.pending = this.pending.subarray(at + this.delimiter.length);
          this.state = 'headers';
          continue;
        }
        // Keep a tail that could be the start of a delimiter split across chunks.
        const safe = this.pending.length - this.delimiter.length;
        if (safe > 0) {
          await this.take(this.pending.subarray(0, safe));
          this.pending = Buffer.from(this.pending.subarray(safe));
        }
        return;
      } else return;
    }
  }

  abort(): void {
    this.sink?.destroy();
    this.sink = null;
  }

  private startPart(headers: string): void {
    const name = /\bname="([^"]*)"/i.exec(headers)?.[1] ?? '';
    const filename = /\bfilename="([^"]*)"/i.exec(headers)?.[1];
    if (filename === undefined) {
      this.fieldName = name;
      return;
    }
    if (this.result.file) throw new MultipartError(400, 'only one file per upload is supported');
    this.result.file = { field: name, filename, path: this.filePath, bytes: 0 };
    this.sink = createWriteStream(this.filePath);
    // Kept, and rethrown on the next write: an unheard 'error' event would take the process down.
    this.sink.on('error', (error) => {
      this.sinkError ??= error;
    });
  }

  private async take(data: Buffer): Promise<void> {
    if (data.length === 0) return;
    if (this.sinkError) throw this.sinkError;
    if (this.sink && this.result.file) {
      this.result.file.bytes += data.length;
      if (this.result.file.bytes > this.maxFileBytes) throw new MultipartError(413, `file is larger than the ${this.maxFileBytes}-byte limit`);
      if (!this.sink.write(data)) await once(this.sink, 'drain');
      return;
    }
    this.fieldBytes += data.length;
    if (this.fieldBytes > MAX_FIELD_BYTES) throw new MultipartError(400, `form field "${this.fieldName}" is larger than ${MAX_FIELD_BYTES} bytes`);
    this.fieldChunks.push(Buffer.from(data));
  }

  private async endPart(): Promise<void> {
    if (this.sink) {
      const done = this.sink;
      this.sink = null;
      if (this.sinkError) throw this.sinkError;
      done.end();
      await once(done, 'finish');
    } else if (this.fieldName !== null) {
      this.result.fields[this.fieldName] = Buffer.concat(this.fieldChunks).toString('utf8');
    }
    this.fieldName = null;
    this.fieldChunks = [];
    this.fieldBytes = 0;
  }
}

/**
 * Reads a multipart/form-data body, writing its file part to `filePath`. Throws MultipartError (400 / 413)
 * for a body it refuses; the caller removes `filePath` then.
 */
export async function readMultipart(body: AsyncIterable<Buffer | string>, boundary: string, filePath: string, maxFileBytes: number): Promise<MultipartUpload> {
  const parser = new MultipartParser(boundary, filePath, maxFileBytes);
  let refused: MultipartError | null = null;
  try {
    for await (const chunk of body) {
      // Read to the end rather than breaking off (after the closing delimiter or a refusal): leaving the
      // loop early would destroy the request socket before the answer is sent.
      if (parser.state === 'done' || refused) continue;
      try {
        await parser.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      } catch (error) {
        if (!(error instanceof MultipartError)) throw error;
        refused = error;
        parser.abort();
      }
    }
  } finally {
    parser.abort();
  }
  if (refused) throw refused;
  if (parser.state !== 'done') throw new MultipartError(400, 'multipart body ended before its closing delimiter');
  return parser.result;
}
