import type { IncomingMessage, ServerResponse } from 'node:http';

/** An API failure with Groq's error body `{error:{message,type,code}}` and its HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string = 'invalid_request_error',
    readonly code: string | null = null,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
  response.end(text);
}

export function sendApiError(response: ServerResponse, error: ApiError): void {
  const body: { message: string; type: string; code: string | null; param?: string } = { message: error.message, type: error.type, code: error.code };
  if (error.param !== null) body.param = error.param;
  sendJson(response, error.status, { error: body }, error.headers);
}

/** Reads a JSON request body up to `limit` bytes; an empty body is an empty object. */
export async function readJsonBody(request: IncomingMessage, limit = 1024 * 1024): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Read to the end even past the limit: leaving the loop early would destroy the socket before the answer.
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size <= limit) chunks.push(chunk as Buffer);
  }
  if (size > limit) throw new ApiError(413, `Request body is larger than ${limit} bytes.`, 'invalid_request_error', 'request_too_large');
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ApiError(400, 'We could not parse the JSON body of your request. The body must be a JSON object.', 'invalid_request_error', 'invalid_json');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ApiError(400, 'The JSON body of your request must be an object.', 'invalid_request_error', 'invalid_json');
  }
  return parsed as Record<string, unknown>;
}

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
