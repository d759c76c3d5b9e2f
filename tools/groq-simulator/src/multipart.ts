import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import type { IncomingMessage } from 'node:http';

export interface MultipartUpload {
  fields: Record<string, string>;
  file: { filename: string; path: string; bytes: number } | null;
}

/**
 * A streaming multipart/form-data reader: the file part goes straight to `filePath`, so a 100 MB
 * upload never sits in memory. Only what the Files API needs (text fields and one file).
 */
export async function readMultipart(request: IncomingMessage, filePath: string): Promise<MultipartUpload> {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(request.headers['content-type'] ?? '');
  if (!boundary) throw new Error('not multipart/form-data');
  const delimiter = Buffer.from(`\r\n--${boundary[1] ?? boundary[2]}`);
  const result: MultipartUpload = { fields: {}, file: null };
  // The body starts with the delimiter minus its leading CRLF.
  let pending = Buffer.from('\r\n');
  let state: 'preamble' | 'headers' | 'body' | 'done' = 'preamble';
  let field: string | null = null;
  let fieldChunks: Buffer[] = [];
  let sink: WriteStream | null = null;

  const write = async (data: Buffer) => {
    if (data.length === 0) return;
    if (sink) {
      result.file!.bytes += data.length;
      if (!sink.write(data)) await once(sink, 'drain');
    } else fieldChunks.push(data);
  };
  const endPart = async () => {
    if (sink) {
      sink.end();
      await once(sink, 'finish');
      sink = null;
    } else if (field) result.fields[field] = Buffer.concat(fieldChunks).toString('utf8');
    field = null;
    fieldChunks = [];
  };

  for await (const chunk of request) {
    pending = Buffer.concat([pending, chunk as Buffer]);
    for (;;) {
      if (state === 'preamble') {
        const at = pending.indexOf(delimiter);
        if (at < 0) break;
        pending = pending.subarray(at + delimiter.length);
        state = 'headers';
      } else if (state === 'headers') {
        if (pending.length >= 2 && pending.subarray(0, 2).toString() === '--') {
          state = 'done';
          break;
        }
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) break;
        const headers = pending.subarray(0, end).toString('utf8');
        pending = pending.subarray(end + 4);
        const name = /name="([^"]*)"/i.exec(headers)?.[1] ?? '';
        const filename = /filename="([^"]*)"/i.exec(headers)?.[1];
        if (filename !== undefined) {
          result.file = { filename, path: filePath, bytes: 0 };
          sink = createWriteStream(filePath);
        } else field = name;
        state = 'body';
      } else if (state === 'body') {
        const at = pending.indexOf(delimiter);
        if (at >= 0) {
          await write(pending.subarray(0, at));
          await endPart();
          pending = pending.subarray(at + delimiter.length);
          state = 'headers';
          continue;
        }
        // Keep a tail that could be the start of a delimiter split across chunks.
        const safe = pending.length - delimiter.length;
        if (safe > 0) {
          await write(pending.subarray(0, safe));
          pending = pending.subarray(safe);
        }
        break;
      } else break;
    }
  }
  if (state !== 'done' && state !== 'headers') throw new Error('multipart body ended early');
  return result;
}
