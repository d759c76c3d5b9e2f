import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type IncomingMessage, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isSdkApiError, type SdkErrorClasses } from './sdk-errors.js';

export interface MultipartFileUpload {
  /** Full URL of the files route, e.g. `https://api.groq.com/openai/v1/files` or `https://api.openai.com/v1/files`. */
  url: string;
  apiKey: string;
  path: string;
  /** Size of the file at `path`, for Content-Length. */
  bytes: number;
  fileName: string;
  fields: Record<string, string>;
  signal: AbortSignal;
  /** The error classes of the client's SDK, so an upload fails like every other call of that client. */
  sdkErrors: SdkErrorClasses;
}

/** Longest answer body read: a File object, a batch or an error, never large. */
const MAX_ANSWER_BYTES = 1_000_000;

/**
 * POSTs a file as multipart/form-data with the body streamed from disk, on node:http(s).
 * The SDKs' `files.create` reads the whole file into memory first (groq-sdk: about 5× the file size at
 * peak, measured), and a streamed fetch body still costs over 100 MB more than node's own streams for
 * a 100 MB file. Errors take the client's SDK types (`APIError.generate`, `APIConnectionError`) so the
 * retry policy and error wrapping treat an upload like every other call.
 */
export async function postMultipartFile(upload: MultipartFileUpload): Promise<unknown> {
  const boundary = `----cascade-${randomBytes(12).toString('hex')}`;
  const safeName = upload.fileName.replace(/["\r\n\\]/g, '_');
  const fields = Object.entries(upload.fields)
    .map(([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`)
    .join('');
  const head = Buffer.from(
    `${fields}--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${safeName}"\r\nContent-Type: application/jsonl\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  async function* body(): AsyncGenerator<Buffer> {
    yield head;
    for await (const chunk of createReadStream(upload.path, { highWaterMark: 256 * 1024 })) yield chunk as Buffer;
    yield tail;
  }

  return postStreamed({
    url: upload.url,
    headers: { Authorization: `Bearer ${upload.apiKey}`, 'Content-Type': `multipart/form-data; boundary=${boundary}` },
    body: Readable.from(body()),
    bytes: head.length + upload.bytes + tail.length,
    signal: upload.signal,
    sdkErrors: upload.sdkErrors,
    what: 'upload',
  });
}

/** A POST whose body is streamed (from disk), answered by a small JSON document. */
export interface StreamedPost {
  url: string;
  /** Auth and Content-Type; Accept and Content-Length are added. */
  headers: Record<string, string>;
  body: Readable;
  /** Bytes of `body`, for Content-Length. */
  bytes: number;
  signal: AbortSignal;
  /** The error classes of the caller's SDK, so the call fails like every other call of that client. */
  sdkErrors: SdkErrorClasses;
  /** What the call is, for a connection error's message (`upload`, `the create`). */
  what: string;
}

/**
 * POSTs a streamed body on node:http(s) and reads the JSON answer: the shared transport of Groq's and
 * OpenAI's uploads and of Anthropic's creates, whose SDKs would hold the whole body in memory. The
 * provider may answer (e.g. 413, 401) before it has read the body: that answer wins. Errors take the
 * SDK's types (`APIError.generate`, `APIConnectionError`).
 */
export async function postStreamed(post: StreamedPost): Promise<unknown> {
  const url = new URL(post.url);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const request = send(url, {
    method: 'POST',
    signal: post.signal,
    headers: { ...post.headers, Accept: 'application/json', 'Content-Length': String(post.bytes) },
  });
  const answered = new Promise<IncomingMessage>((resolve, reject) => {
    request.once('response', resolve);
    request.once('error', reject);
  });
  try {
    const [response] = await Promise.all([answered, pipeline(post.body, request).catch(() => undefined)]);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size <= MAX_ANSWER_BYTES) chunks.push(chunk);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const status = response.statusCode ?? 0;
    if (status >= 200 && status < 300) return json;
    const headers = new Headers();
    for (const [name, value] of Object.entries(response.headers)) if (typeof value === 'string') headers.set(name, value);
    throw post.sdkErrors.APIError.generate(status, json as object | undefined, json === undefined ? text.slice(0, 2_000) : undefined, headers);
  } catch (error) {
    if (isSdkApiError(error)) throw error;
    throw new post.sdkErrors.APIConnectionError({ message: `${post.what} did not complete: ${(error as Error).message}`, cause: error as Error });
  } finally {
    request.destroy();
  }
}
