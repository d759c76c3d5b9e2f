import type { IncomingMessage } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { JsonlWriter } from '../../groq-simulator/src/jsonl.js';
import { ApiError } from './http.js';

/** Anthropic's custom_id rule. */
export const CUSTOM_ID_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

export interface StoredRequests {
  /** Requests written, one `{custom_id, params}` JSON line each. */
  count: number;
  bytes: number;
}

const QUOTE = 34;
const BACKSLASH = 92;
const isSpace = (c: number) => c === 32 || c === 10 || c === 13 || c === 9;

/**
 * Finds the elements of the top-level `requests` array in a JSON body as it streams in, without
 * holding the body: only the element being read is kept. The rest of the body is skipped as far as
 * its nesting and strings go; it is not otherwise checked.
 */
export class RequestsArraySplitter {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private expectKey = false;
  private key: string | null = null;
  private valueKey: string | null = null;
  private inRequests = false;
  sawRequests = false;
  /** Text of the key or element being captured, and where it started in the current chunk. */
  private capture: string[] | null = null;
  private captureStart = 0;
  private capturing: 'key' | 'element' | null = null;

  constructor(private readonly onElement: (text: string) => void) {}

  write(chunk: string): void {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === BACKSLASH) this.escaped = true;
        else if (c === QUOTE) {
          this.inString = false;
          if (this.capturing === 'key') this.key = JSON.parse(this.endCapture(chunk, i + 1)) as string;
        }
        continue;
      }
      if (c === QUOTE) {
        this.inString = true;
        if (this.depth === 1 && this.expectKey) {
          this.expectKey = false;
          this.startCapture('key', i);
        } else this.notElement(c);
        continue;
      }
      if (isSpace(c)) continue;
      if (this.depth === 1 && c === 58 /* : */) {
        this.valueKey = this.key;
        continue;
      }
      if (this.depth === 1 && c === 44 /* , */) {
        this.expectKey = true;
        continue;
      }
      if (this.inRequests && this.depth === 2) {
        if (c === 44) continue;
        if (c === 123 /* { */) this.startCapture('element', i);
        else if (c !== 93 /* ] */) this.notElement(c);
      }
      if (c === 123 || c === 91) {
        this.depth++;
        if (this.depth === 1) {
          if (c !== 123) throw new ApiError(400, 'invalid_request_error', 'The request body must be a JSON object.');
          this.expectKey = true;
        }
        if (this.depth === 2 && c === 91 && this.valueKey === 'requests') {
          this.inRequests = true;
          this.sawRequests = true;
        }
      } else if (c === 125 || c === 93) {
        this.depth--;
        if (this.depth < 0) throw new ApiError(400, 'invalid_request_error', 'The request body is not valid JSON.');
        if (this.depth === 2 && this.capturing === 'element') this.onElement(this.endCapture(chunk, i + 1));
        if (this.depth === 1 && this.inRequests) this.inRequests = false;
      }
    }
    if (this.capture) {
      this.capture.push(chunk.slice(this.captureStart));
      this.captureStart = 0;
    }
  }

  end(): void {
    if (this.depth !== 0 || this.inString) throw new ApiError(400, 'invalid_request_error', 'The request body is not valid JSON: it ends early.');
  }

  private notElement(c: number): void {
    if (this.inRequests && this.depth === 2 && this.capturing === null) {
      throw new ApiError(400, 'invalid_request_error', `requests: each item must be an object, got one starting with ${JSON.stringify(String.fromCharCode(c))}.`);
    }
  }

  private startCapture(kind: 'key' | 'element', at: number): void {
    this.capturing = kind;
    this.capture = [];
    this.captureStart = at;
  }

  private endCapture(chunk: string, end: number): string {
    const text = this.capture!.join('') + chunk.slice(this.captureStart, end);
    this.capture = null;
    this.capturing = null;
    return text;
  }
}

/**
 * Reads a create body to a JSONL file of `{custom_id, params}` lines with the checks Anthropic makes
 * before answering: a JSON object with a `requests` list of 1..maxRequests items, each with a
 * custom_id matching `^[a-zA-Z0-9_-]{1,64}$` unique in the batch and a `params` object, and a body
 * of at most maxBytes (413 `request_too_large`). `params` themselves are checked later, per request.
 */
export async function storeRequests(request: IncomingMessage, path: string, limits: { maxBytes: number; maxRequests: number }): Promise<StoredRequests> {
  const writer = new JsonlWriter(path);
  const seen = new Set<string>();
  let problem: ApiError | null = null;
  let count = 0;
  let pending: Promise<void> | undefined;
  const splitter = new RequestsArraySplitter((text) => {
    if (problem) return;
    const at = count++;
    const item = JSON.parse(text) as { custom_id?: unknown; params?: unknown };
    const customId = item.custom_id;
    if (typeof customId !== 'string' || !CUSTOM_ID_PATTERN.test(customId)) {
      problem = new ApiError(400, 'invalid_request_error', `requests.${at}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'`);
    } else if (seen.has(customId)) {
      problem = new ApiError(400, 'invalid_request_error', `requests.${at}.custom_id: custom_id '${customId}' is used more than once; each custom_id must be unique within the batch.`);
    } else if (typeof item.params !== 'object' || item.params === null || Array.isArray(item.params)) {
      problem = new ApiError(400, 'invalid_request_error', `requests.${at}.params: Field required`);
    } else if (count > limits.maxRequests) {
      problem = new ApiError(400, 'invalid_request_error', `requests: List should have at most ${limits.maxRequests} items after validation.`);
    } else {
      seen.add(customId);
      pending = writer.write(JSON.stringify({ custom_id: customId, params: item.params })) ?? pending;
    }
  });
  const decoder = new StringDecoder('utf8');
  let bytes = 0;
  try {
    // Read to the end even past a problem: answering before the body is read would reset the socket.
    for await (const chunk of request) {
      bytes += (chunk as Buffer).length;
      if (bytes > limits.maxBytes) problem ??= new ApiError(413, 'request_too_large', 'Request exceeds the maximum allowed number of bytes.');
      if (problem) continue;
      try {
        splitter.write(decoder.write(chunk as Buffer));
      } catch (error) {
        problem = error instanceof ApiError ? error : new ApiError(400, 'invalid_request_error', `The request body is not valid JSON: ${(error as Error).message}`);
      }
      if (pending) {
        await pending;
        pending = undefined;
      }
    }
    if (!problem) {
      splitter.write(decoder.end());
      splitter.end();
      if (!splitter.sawRequests) problem = new ApiError(400, 'invalid_request_error', 'requests: Field required');
      else if (count === 0) problem = new ApiError(400, 'invalid_request_error', 'requests: List should have at least 1 item after validation, not 0');
    }
  } catch (error) {
    problem ??= error instanceof ApiError ? error : new ApiError(400, 'invalid_request_error', `The request body is not valid JSON: ${(error as Error).message}`);
  } finally {
    await writer.close().catch(() => undefined);
  }
  if (problem) throw problem;
  return { count, bytes };
}
