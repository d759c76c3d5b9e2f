import { createReadStream } from 'node:fs';
import { type IncomingMessage, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pipeline } from 'node:stream/promises';
import { APIConnectionError, APIError } from '@anthropic-ai/sdk';

export interface JsonFilePost {
  url: string;
  headers: Record<string, string>;
  path: string;
  /** Size of the file at `path`, for Content-Length. */
  bytes: number;
  signal: AbortSignal;
}

/** Longest answer body read: a MessageBatch or an error, never large. */
const MAX_ANSWER_BYTES = 1_000_000;

/**
 * POSTs a JSON file with the body streamed from disk on node:http(s), as `postMultipartFile` of
 * `#groq-batch` does for uploads: the SDK would serialise the whole request list into one string,
 * and a streamed fetch body costs far more memory than node's own streams. Errors take the
 * Anthropic SDK's types (`APIError.generate`, `APIConnectionError`), as the SDK's own calls throw.
 */
export async function postJsonFile(post: JsonFilePost): Promise<unknown> {
  const url = new URL(post.url);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const request = send(url, {
    method: 'POST',
    signal: post.signal,
    headers: { ...post.headers, Accept: 'application/json', 'Content-Type': 'application/json', 'Content-Length': String(post.bytes) },
  });
  const answered = new Promise<IncomingMessage>((resolve, reject) => {
    request.once('response', resolve);
    request.once('error', reject);
  });
  try {
    // The provider may answer (e.g. 413, 401) before reading the whole body: that answer wins.
    const [response] = await Promise.all([answered, pipeline(createReadStream(post.path, { highWaterMark: 256 * 1024 }), request).catch(() => undefined)]);
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
    throw APIError.generate(status, json as object | undefined, json === undefined ? text.slice(0, 2_000) : undefined, headers);
  } catch (error) {
    if (error instanceof APIError) throw error;
    throw new APIConnectionError({ message: `the create did not complete: ${(error as Error).message}`, cause: error as Error });
  } finally {
    request.destroy();
  }
}
