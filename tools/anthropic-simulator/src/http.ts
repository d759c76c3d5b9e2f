import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';

/** An API failure in Anthropic's shape, `{type:'error', error:{type, message}}`, with its HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Anthropic's id shape: a prefix and 24 base62 characters (`msgbatch_013Zva2CMHLNnXjNJJKqJ2EF`). */
export function anthropicId(prefix: string): string {
  const random = randomBytes(24);
  let tail = '';
  for (const byte of random) tail += BASE62[byte % 62];
  return `${prefix}_01${tail.slice(2)}`;
}

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    'request-id': anthropicId('req'),
    ...headers,
  });
  response.end(text);
}

export function sendApiError(response: ServerResponse, error: ApiError): void {
  sendJson(response, error.status, { type: 'error', error: { type: error.type, message: error.message } }, error.headers);
}

/** Reads a small JSON body (control routes); an empty body is an empty object. */
export async function readSmallJson(request: AsyncIterable<unknown>, limit = 1024 * 1024): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size <= limit) chunks.push(chunk as Buffer);
  }
  if (size > limit) throw new ApiError(413, 'request_too_large', 'Request exceeds the maximum allowed number of bytes.');
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ApiError(400, 'invalid_request_error', 'The request body is not valid JSON.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ApiError(400, 'invalid_request_error', 'The request body must be a JSON object.');
  return parsed as Record<string, unknown>;
}

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** RFC 3339 with microseconds, as Anthropic writes its timestamps (`2024-08-20T18:37:24.100435Z`). */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
