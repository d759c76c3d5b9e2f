import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MultipartError, multipartBoundary, readMultipart } from './multipart.js';

const dir = mkdtempSync(join(tmpdir(), 'multipart-spec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BOUNDARY = 'formdata-undici-0123456789';

function body(file: Buffer, purpose = 'batch', boundary = BOUNDARY): Buffer {
  return Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n${purpose}\r\n`),
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="batch.jsonl"\r\nContent-Type: application/octet-stream\r\n\r\n`),
    file,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
}

async function* inChunks(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
}

let counter = 0;
const target = () => join(dir, `upload-${counter++}.jsonl`);

describe('readMultipart', () => {
  // Content that looks like a delimiter without being one, CRLFs, and bytes that are not UTF-8.
  const tricky = Buffer.concat([
    Buffer.from('{"custom_id":"a"}\r\n--formdata-undici-012345678\r\n'),
    Buffer.from(`\r\n--${BOUNDARY.slice(0, -1)}X\r\n`),
    Buffer.from([0xff, 0xfe, 0x00, 0x0d, 0x0a]),
    Buffer.from('{"custom_id":"b"}\n'),
  ]);

  it.each([1, 2, 3, 7, 16, 31, 64, 1024])('writes the file byte for byte and reads the fields, in chunks of %i bytes', async (size) => {
    const path = target();
    const upload = await readMultipart(inChunks(body(tricky), size), BOUNDARY, path, 1e6);
    expect(upload.fields).toEqual({ purpose: 'batch' });
    expect(upload.file).toEqual({ field: 'file', filename: 'batch.jsonl', path, bytes: tricky.length });
    expect(readFileSync(path).equals(tricky)).toBe(true);
  });

  it('handles an empty file part and fields after the file', async () => {
    const data = Buffer.concat([
      Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="e.jsonl"\r\n\r\n`),
      Buffer.from(`\r\n--${BOUNDARY}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--${BOUNDARY}--`),
    ]);
    const upload = await readMultipart(inChunks(data, 5), BOUNDARY, target(), 1e6);
    expect(upload.file?.bytes).toBe(0);
    expect(upload.fields.purpose).toBe('batch');
  });

  it('refuses a file over the limit with 413, after reading the whole body', async () => {
    let consumed = 0;
    async function* counted(): AsyncGenerator<Buffer> {
      for await (const chunk of inChunks(body(Buffer.alloc(5_000, 0x61)), 100)) {
        consumed += chunk.length;
        yield chunk;
      }
    }
    const path = target();
    await expect(readMultipart(counted(), BOUNDARY, path, 1_000)).rejects.toMatchObject({ status: 413 });
    expect(consumed).toBe(body(Buffer.alloc(5_000, 0x61)).length);
  });

  it('refuses a body cut before its closing delimiter with 400', async () => {
    const data = body(Buffer.from('{}\n'));
    await expect(readMultipart(inChunks(data.subarray(0, data.length - 10), 8), BOUNDARY, target(), 1e6)).rejects.toBeInstanceOf(MultipartError);
  });

  it('reads the boundary from the content type, quoted or not', () => {
    expect(multipartBoundary('multipart/form-data; boundary=abc123')).toBe('abc123');
    expect(multipartBoundary('multipart/form-data; charset=utf-8; boundary="a b"')).toBe('a b');
    expect(multipartBoundary('application/json')).toBeNull();
    expect(multipartBoundary(undefined)).toBeNull();
  });
});
