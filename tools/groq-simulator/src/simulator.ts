import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { type BatchJob, type BatchObject, completionWindowSeconds } from './batch-object.js';
import { AttemptCounter, runBatch } from './batch-runner.js';
import { ulidId } from './determinism.js';
import { answerChatRequest, lineDigest } from './line-answer.js';
import { discard, FileStore } from './file-store.js';
import { ApiError, delay, readJsonBody, sendApiError, sendJson } from './http-util.js';
import { MultipartError, multipartBoundary, type MultipartUpload, readMultipart } from './multipart.js';
import {
  baseProfileFor,
  type ModelProfile,
  parseFaults,
  parseProfile,
  resolveOptions,
  type SimulatorApi,
  type SimulatorFaults,
  type SimulatorOptions,
} from './options.js';
import { type SimulatorStats, StatsRecorder } from './stats.js';

export * from './options.js';
export type { BatchObject, BatchStatus } from './batch-object.js';
export type { FileObject } from './file-store.js';
export type { SimulatorStats } from './stats.js';

export interface SimulatorSpeed {
  stageDelayMs?: number;
  perLineDelayMs?: number;
  linesPerSecond?: number | null;
}

export interface GroqSimulator {
  /** The provider API it speaks. */
  api: SimulatorApi;
  /** The host root, e.g. `http://127.0.0.1:18080`: give it to groq-sdk as `baseURL` (the SDK adds `/openai/v1`). */
  url: string;
  /**
   * What the provider's SDK takes as `baseURL`: the host root for groq-sdk, the host root plus `/v1`
   * for openai (its base URL includes the version).
   */
  baseURL: string;
  port: number;
  /** The simulator's own directory for uploads and produced files; removed by stop(). */
  dataDir: string;
  stats(): SimulatorStats;
  resetStats(): void;
  /** Changes faults from now on; setting a `…First` count restarts its counter. */
  setFaults(faults: Partial<SimulatorFaults>): void;
  faults(): SimulatorFaults;
  setProfile(model: string, profile: Partial<ModelProfile>): void;
  setSpeed(speed: SimulatorSpeed): void;
  /** Resolves when every batch created so far has reached a terminal status. */
  idle(): Promise<void>;
  /** Stops the server, abandons running batches and removes every file the simulator wrote. */
  stop(): Promise<void>;
}

/** The billed account's entry (in place of a batch id) of the on-demand chat completions answered. */
export const ON_DEMAND_ACCOUNT = 'on-demand';

/** The Files and Batches routes under the API's prefix: `/openai/v1` on Groq, `/v1` on OpenAI. */
interface ApiRoutes {
  prefix: string;
  pattern: RegExp;
}

function apiRoutes(api: SimulatorApi): ApiRoutes {
  const prefix = api === 'openai' ? '/v1' : '/openai/v1';
  return { prefix, pattern: new RegExp(`^${prefix}/(files|batches)(?:/([^/]+))?(?:/(content|cancel))?/?$`) };
}

/** `POST /openai/v1/batches/{id}/cancel` style keys, one per route, for the call counters. */
function routeKey(routes: ApiRoutes, method: string, path: string): string {
  const match = routes.pattern.exec(path);
  if (!match) return `${method} ${path}`;
  const [, resource, id, action] = match;
  return `${method} ${routes.prefix}/${resource}${id ? '/{id}' : ''}${action ? `/${action}` : ''}`;
}

const isStringMap = (value: unknown): value is Record<string, string> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');

/**
 * OpenAI's list page: the items after `after` (by id), `limit` of them, `has_more` when more follow.
 * A limit out of range is refused as OpenAI does.
 */
function openAiListPage<T extends { id: string }>(items: T[], query: URLSearchParams, bounds: { defaultLimit: number; maxLimit: number }): Record<string, unknown> {
  const given = query.get('limit');
  const limit = given === null ? bounds.defaultLimit : Number(given);
  if (!Number.isInteger(limit) || limit < 1 || limit > bounds.maxLimit) {
    throw new ApiError(400, `Invalid 'limit': expected an integer from 1 to ${bounds.maxLimit}, got ${JSON.stringify(given)}.`, 'invalid_request_error', 'invalid_value', 'limit');
  }
  const after = query.get('after');
  const at = after ? items.findIndex((item) => item.id === after) : -1;
  const rest = at >= 0 ? items.slice(at + 1) : items;
  const data = rest.slice(0, limit);
  return { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: rest.length > limit };
}

/** OpenAI's documented metadata limits: at most 16 pairs, keys up to 64 characters, values up to 512. */
function checkOpenAiMetadata(metadata: Record<string, string>): void {
  const entries = Object.entries(metadata);
  const problem =
    entries.length > 16
      ? `metadata has ${entries.length} pairs; at most 16 are allowed`
      : entries.map(([key, value]) => (key.length > 64 ? `metadata key '${key}' is longer than 64 characters` : value.length > 512 ? `metadata value of '${key}' is longer than 512 characters` : null)).find(Boolean);
  if (problem) throw new ApiError(400, `Invalid 'metadata': ${problem}.`, 'invalid_request_error', 'invalid_value', 'metadata');
}

/** The simulator's state and its HTTP API: the provider's Files and Batches routes plus the `/_sim/` control routes. */

/** The 5xx answers of `serverErrorsFirst`, in turn. */
const SERVER_ERRORS: Array<[number, string]> = [
  [500, 'Internal Server Error'],
  [502, 'Bad Gateway'],
  [503, 'Service Unavailable. Please try again later.'],
];

class Simulation {
  readonly stats = new StatsRecorder();
  readonly files: FileStore;
  private readonly jobs = new Map<string, BatchJob>();
  private readonly running = new Set<Promise<void>>();
  private readonly attempts = new AttemptCounter();
  private readonly rateLimited = new Map<string, number>();
  private downloadErrors = 0;
  private serverErrors = 0;
  private createErrorsAfterWork = 0;
  /** Creation order, to sort batches created within the same second. */
  private sequence = 0;
  private readonly order = new Map<string, number>();
  /** Creation time in ms by `clock`, for `listDelayMs` (`created_at` has whole seconds only). */
  private readonly createdAtMs = new Map<string, number>();
  stopping = false;

  private readonly routes: ApiRoutes;

  constructor(readonly options: SimulatorOptions) {
    this.files = new FileStore(() => this.nowSeconds());
    this.routes = apiRoutes(options.api);
  }

  nowSeconds(): number {
    return Math.floor(this.options.clock() / 1000);
  }

  setFaults(patch: Partial<SimulatorFaults>): void {
    Object.assign(this.options.faults, patch);
    if ('rateLimitFirst' in patch || 'rateLimitRoute' in patch) this.rateLimited.clear();
    if ('downloadErrorsFirst' in patch) this.downloadErrors = 0;
    if ('serverErrorsFirst' in patch) this.serverErrors = 0;
    if ('createErrorsAfterWorkFirst' in patch) this.createErrorsAfterWork = 0;
  }

  setProfile(model: string, profile: Partial<ModelProfile>): void {
    this.options.profiles[model] = { ...(this.options.profiles[model] ?? baseProfileFor(this.options.api)), ...profile };
  }

  setSpeed(speed: SimulatorSpeed): void {
    if (speed.stageDelayMs !== undefined) this.options.stageDelayMs = speed.stageDelayMs;
    if (speed.perLineDelayMs !== undefined) this.options.perLineDelayMs = speed.perLineDelayMs;
    if (speed.linesPerSecond !== undefined) this.options.linesPerSecond = speed.linesPerSecond;
  }

  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.running]);
    this.files.destroy();
  }

  async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://simulator');
    const method = request.method ?? 'GET';
    if (url.pathname.startsWith('/_sim/')) return this.control(method, url.pathname, request, response);

    const key = routeKey(this.routes, method, url.pathname);
    this.stats.call(key);
    if (!/^Bearer\s+\S+/i.test(request.headers.authorization ?? '')) {
      throw new ApiError(401, 'Invalid API Key', 'invalid_request_error', 'invalid_api_key');
    }
    const faults = this.options.faults;
    if (faults.responseDelayMs > 0) await delay(faults.responseDelayMs);
    if (faults.rateLimitFirst > 0 && (faults.rateLimitRoute === null || faults.rateLimitRoute === key)) {
      const counter = faults.rateLimitRoute ?? '*';
      const seen = this.rateLimited.get(counter) ?? 0;
      if (seen < faults.rateLimitFirst) {
        this.rateLimited.set(counter, seen + 1);
        const seconds = faults.rateLimitRetryAfterMs / 1000;
        throw new ApiError(429, `Rate limit reached for requests on ${key}. Please try again in ${seconds}s.`, 'requests', 'rate_limit_exceeded', null, {
          'retry-after': String(seconds),
          'x-ratelimit-remaining-requests': '0',
          'x-ratelimit-reset-requests': `${seconds}s`,
        });
      }
    }

    if (this.serverErrors < faults.serverErrorsFirst) {
      const [status, message] = SERVER_ERRORS[this.serverErrors++ % SERVER_ERRORS.length]!;
      throw new ApiError(status, message, 'internal_server_error', 'internal_server_error');
    }

    if (url.pathname === `${this.routes.prefix}/chat/completions`) {
      if (method !== 'POST') throw this.methodNotAllowed(method, 'chat completions');
      return this.chatCompletion(request, response);
    }
    const match = this.routes.pattern.exec(url.pathname);
    if (!match) {
      throw new ApiError(404, `Unknown request URL: ${method} ${url.pathname}. Please check the URL for typos.`, 'invalid_request_error', 'unknown_url');
    }
    const [, resource, id, action] = match as unknown as [string, 'files' | 'batches', string | undefined, 'content' | 'cancel' | undefined];
    if (resource === 'files') return this.filesRoute(method, id, action, url, request, response);
    return this.batchesRoute(method, id, action, url, request, response);
  }

  private async filesRoute(
    method: string,
    id: string | undefined,
    action: string | undefined,
    url: URL,
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<void> {
    if (!id && method === 'POST') return this.upload(request, response);
    if (!id && method === 'GET') return sendJson(response, 200, this.listFiles(url.searchParams));
    if (!id || (action && action !== 'content')) throw this.methodNotAllowed(method, 'files');
    const file = this.files.get(id);
    if (!file) throw new ApiError(404, `File ${id} not found.`, 'invalid_request_error', 'not_found');
    if (action === 'content' && method === 'GET') {
      if (this.downloadErrors < this.options.faults.downloadErrorsFirst) {
        this.downloadErrors++;
        throw new ApiError(503, 'Service Unavailable. Please try again later.', 'internal_server_error', 'service_unavailable');
      }
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(file.info.bytes) });
      // A client that goes away mid-download is its own business.
      await pipeline(createReadStream(file.path), response).catch(() => undefined);
      return;
    }
    if (!action && method === 'GET') return sendJson(response, 200, file.info);
    if (!action && method === 'DELETE') {
      this.files.delete(id);
      return sendJson(response, 200, { id, object: 'file', deleted: true });
    }
    throw this.methodNotAllowed(method, 'files');
  }

  private async upload(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const boundary = multipartBoundary(request.headers['content-type']);
    if (!boundary) {
      throw new ApiError(400, 'Upload files as multipart/form-data with a "file" part and purpose=batch.', 'invalid_request_error', 'invalid_content_type');
    }
    const path = this.files.scratchPath('upload');
    let upload: MultipartUpload;
    try {
      upload = await readMultipart(request, boundary, path, this.options.maxUploadBytes);
    } catch (error) {
      discard(path);
      if (error instanceof MultipartError) {
        throw new ApiError(error.status, `File upload refused: ${error.message}.`, 'invalid_request_error', error.status === 413 ? 'file_too_large' : 'invalid_multipart');
      }
      throw error;
    }
    if (!upload.file || upload.file.field !== 'file') {
      discard(path);
      throw new ApiError(400, "'file' is a required property", 'invalid_request_error', null, 'file');
    }
    if (upload.fields.purpose !== 'batch') {
      discard(path);
      throw new ApiError(400, `'purpose' must be 'batch', got ${JSON.stringify(upload.fields.purpose ?? null)}`, 'invalid_request_error', null, 'purpose');
    }
    const file = this.files.add(path, upload.file.filename || 'upload.jsonl', 'batch');
    this.stats.fileUploaded();
    sendJson(response, 200, file);
  }

  private async batchesRoute(
    method: string,
    id: string | undefined,
    action: string | undefined,
    url: URL,
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<void> {
    if (!id && method === 'POST') return this.createBatch(request, response);
    if (!id && method === 'GET') return sendJson(response, 200, this.listBatches(url.searchParams));
    if (!id || (action && action !== 'cancel')) throw this.methodNotAllowed(method, 'batches');
    const job = this.jobs.get(id);
    if (!job) throw new ApiError(404, `Batch ${id} not found.`, 'invalid_request_error', 'not_found');
    if (!action && method === 'GET') return sendJson(response, 200, job.batch);
    if (action === 'cancel' && method === 'POST') {
      const { batch } = job;
      if (batch.status === 'validating' || batch.status === 'in_progress') {
        job.cancelRequested = true;
        Object.assign(batch, { status: 'cancelling', cancelling_at: this.nowSeconds() });
      } else if (batch.status !== 'cancelling') {
        throw new ApiError(400, `Batch ${id} cannot be cancelled: its status is ${batch.status}.`, 'invalid_request_error', 'invalid_batch_status');
      }
      return sendJson(response, 200, batch);
    }
    throw this.methodNotAllowed(method, 'batches');
  }

  /**
   * On-demand chat completions: the answer a batch line with this body would get (the same `answerChatRequest`
   * decisions, keyed by the body since a chat request has no custom_id), at once, billed at full price (twice
   * the batch price) under the account's `on-demand` entry. The batch path's faults (stage delays, expiry,
   * dropped or cut lines) do not apply; the route's faults (429s, 5xx, response delay) do.
   */
  private async chatCompletion(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readJsonBody(request);
    const model = String(body.model);
    const digest = lineDigest(JSON.stringify(body));
    const customId = `on-demand-${digest}`;
    const answer = answerChatRequest(customId, body, {
      api: this.options.api,
      seed: this.options.seed,
      model,
      profile: this.options.profiles[model] ?? baseProfileFor(this.options.api),
      attempt: this.attempts.next(customId, model, digest),
      outputTooLongAs: this.options.outputTooLongAs,
      nowSeconds: Math.floor(this.options.clock() / 1000),
      digest,
    });
    this.stats.lineProcessed(model);
    this.stats.outcome(ON_DEMAND_ACCOUNT, customId, answer.outcome);
    const price = this.options.prices[model];
    const fullPrice = price && { inputPerMillion: price.inputPerMillion * 2, outputPerMillion: price.outputPerMillion * 2 };
    if (answer.billed) this.stats.billed(ON_DEMAND_ACCOUNT, model, answer.billed, fullPrice, answer.statusCode !== 200);
    const served = answer.statusCode === 200 ? { ...answer.body, service_tier: 'default' } : answer.body;
    sendJson(response, answer.statusCode, served, { 'x-request-id': answer.requestId });
  }

  private async createBatch(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readJsonBody(request);
    const inputFileId = body.input_file_id;
    if (typeof inputFileId !== 'string' || inputFileId === '') {
      throw new ApiError(400, "Missing required parameter: 'input_file_id'.", 'invalid_request_error', 'missing_required_parameter', 'input_file_id');
    }
    const input = this.files.get(inputFileId);
    if (!input) throw new ApiError(404, `Input file ${inputFileId} not found.`, 'invalid_request_error', 'not_found', 'input_file_id');
    if (input.info.purpose !== 'batch') {
      throw new ApiError(400, `File ${inputFileId} has purpose '${input.info.purpose}'; a batch needs a file uploaded with purpose 'batch'.`, 'invalid_request_error', null, 'input_file_id');
    }
    if (body.endpoint !== '/v1/chat/completions') {
      throw new ApiError(400, `Unsupported endpoint ${JSON.stringify(body.endpoint ?? null)}; use /v1/chat/completions.`, 'invalid_request_error', null, 'endpoint');
    }
    const window = typeof body.completion_window === 'string' ? body.completion_window : '';
    const windowSeconds = this.completionWindowSeconds(window, body.completion_window);
    if (body.metadata !== undefined && body.metadata !== null && !isStringMap(body.metadata)) {
      throw new ApiError(400, 'metadata must be an object of string keys to string values.', 'invalid_request_error', null, 'metadata');
    }
    if (this.options.api === 'openai' && isStringMap(body.metadata)) checkOpenAiMetadata(body.metadata);
    const nowMs = this.options.clock();
    const createdAt = Math.floor(nowMs / 1000);
    const batch: BatchObject = {
      id: ulidId('batch', nowMs),
      object: 'batch',
      endpoint: body.endpoint,
      errors: null,
      input_file_id: inputFileId,
      completion_window: window,
      status: 'validating',
      output_file_id: null,
      error_file_id: null,
      created_at: createdAt,
      in_progress_at: null,
      expires_at: createdAt + windowSeconds,
      finalizing_at: null,
      completed_at: null,
      failed_at: null,
      expired_at: null,
      cancelling_at: null,
      cancelled_at: null,
      request_counts: { total: 0, completed: 0, failed: 0 },
      metadata: (body.metadata as Record<string, string> | null | undefined) ?? null,
    };
    const job: BatchJob = { batch, cancelRequested: false };
    this.jobs.set(batch.id, job);
    this.order.set(batch.id, this.sequence++);
    this.createdAtMs.set(batch.id, nowMs);
    this.stats.batchCreated();
    // The answer is a snapshot taken now; processing goes on after it.
    const snapshot = JSON.stringify(batch);
    const run = runBatch(job, { options: this.options, files: this.files, stats: this.stats, attempts: this.attempts, isStopping: () => this.stopping })
      .catch((error: unknown) => {
        Object.assign(batch, {
          status: 'failed',
          failed_at: this.nowSeconds(),
          errors: { object: 'list', data: [{ code: 'internal_error', message: `batch ${batch.id} failed inside the simulator: ${(error as Error).message}`, param: null, line: null }] },
        });
      })
      .finally(() => this.running.delete(run));
    this.running.add(run);
    if (this.options.faults.dropCreateResponses > 0) {
      // The batch exists, but the client never hears of it: the lost-response case a create must survive.
      this.options.faults.dropCreateResponses--;
      request.socket.destroy();
      return;
    }
    if (this.createErrorsAfterWork < (this.options.faults.createErrorsAfterWorkFirst)) {
      // The batch exists and runs, but the client is told the create failed: a retry without a lookup creates it twice.
      this.createErrorsAfterWork++;
      throw new ApiError(500, 'Internal Server Error', 'internal_server_error', 'internal_server_error');
    }
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(snapshot)) });
    response.end(snapshot);
  }

  /** Groq: `24h` to `7d`; OpenAI: `24h` only. Anything else is a 400 in the provider's wording. */
  private completionWindowSeconds(window: string, given: unknown): number {
    if (this.options.api === 'openai') {
      if (window === '24h') return 24 * 3_600;
      throw new ApiError(400, `Invalid value for 'completion_window': ${JSON.stringify(given ?? null)}. Supported values are: '24h'.`, 'invalid_request_error', 'invalid_value', 'completion_window');
    }
    const seconds = completionWindowSeconds(window);
    if (seconds === null) {
      throw new ApiError(400, `Invalid completion_window ${JSON.stringify(given ?? null)}: durations from 24h to 7d are supported.`, 'invalid_request_error', null, 'completion_window');
    }
    return seconds;
  }

  /**
   * Newest first. Groq: OpenAI-style paging (`limit`, `after`) plus its own `cursor` and repeated `id`
   * filters and `paging.next_cursor`. OpenAI: `limit` (1–100, default 20) and `after` only.
   * Batches younger than `listDelayMs` are left out, whatever the filters: an eventually consistent listing.
   */
  private listBatches(query: URLSearchParams): Record<string, unknown> {
    if (this.options.api === 'openai') return openAiListPage(this.listableBatches([]), query, { defaultLimit: 20, maxLimit: 100 });
    const ids = query.getAll('id');
    let data = this.listableBatches(ids);
    const after = query.get('after') ?? query.get('cursor');
    if (after) {
      const at = data.findIndex((batch) => batch.id === after);
      data = at >= 0 ? data.slice(at + 1) : data;
    }
    const limit = Number(query.get('limit'));
    const hasMore = Number.isInteger(limit) && limit > 0 && data.length > limit;
    if (hasMore) data = data.slice(0, limit);
    const lastId = data.at(-1)?.id ?? null;
    return { object: 'list', data, first_id: data[0]?.id ?? null, last_id: lastId, has_more: hasMore, paging: { next_cursor: hasMore ? lastId : null } };
  }

  /** The batches a list shows, newest first: all but those younger than `listDelayMs`, and only `ids` if given. */
  private listableBatches(ids: string[]): BatchObject[] {
    const listDelayMs = this.options.faults.listDelayMs;
    const listedBefore = this.options.clock() - listDelayMs;
    return [...this.jobs.values()]
      .map((job) => job.batch)
      .filter((batch) => listDelayMs === 0 || (this.createdAtMs.get(batch.id) ?? 0) <= listedBefore)
      .filter((batch) => ids.length === 0 || ids.includes(batch.id))
      .sort((a, b) => b.created_at - a.created_at || (this.order.get(b.id) ?? 0) - (this.order.get(a.id) ?? 0));
  }

  /** Groq answers every file in one list; OpenAI pages it (`limit` 1–10,000, default 10,000, and `after`). */
  private listFiles(query: URLSearchParams): Record<string, unknown> {
    if (this.options.api === 'openai') return openAiListPage(this.files.list(), query, { defaultLimit: 10_000, maxLimit: 10_000 });
    return { object: 'list', data: this.files.list() };
  }

  private methodNotAllowed(method: string, resource: string): ApiError {
    return new ApiError(405, `Method ${method} is not allowed on this ${resource} route.`, 'invalid_request_error', 'method_not_allowed');
  }

  /** Out-of-process control: stats, faults, model profiles, speed, reset. No auth: it listens on loopback. */
  private async control(method: string, path: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
    const parse = <T>(fn: () => T): T => {
      try {
        return fn();
      } catch (error) {
        throw new ApiError(400, `${method} ${path}: ${(error as Error).message}`, 'invalid_request_error', 'invalid_control_request');
      }
    };
    if (method === 'GET' && path === '/_sim/stats') return sendJson(response, 200, this.stats.snapshot());
    if (method === 'GET' && path === '/_sim/faults') return sendJson(response, 200, this.options.faults);
    if (method === 'POST' && path === '/_sim/faults') {
      const body = await readJsonBody(request);
      this.setFaults(parse(() => parseFaults(body)));
      return sendJson(response, 200, this.options.faults);
    }
    if (method === 'POST' && path === '/_sim/reset') {
      this.stats.reset();
      return sendJson(response, 200, { reset: true });
    }
    if (method === 'GET' && path === '/_sim/profiles') return sendJson(response, 200, this.options.profiles);
    if (method === 'POST' && path === '/_sim/profiles') {
      const body = await readJsonBody(request);
      const profiles = parse(() => Object.entries(body).map(([model, profile]) => [model, parseProfile(profile)] as const));
      for (const [model, profile] of profiles) this.setProfile(model, profile);
      return sendJson(response, 200, this.options.profiles);
    }
    if (method === 'POST' && path === '/_sim/speed') {
      const body = await readJsonBody(request);
      const speed = parse(() => {
        const out: SimulatorSpeed = {};
        for (const [key, value] of Object.entries(body)) {
          const ok = key === 'linesPerSecond' ? value === null || (typeof value === 'number' && value > 0) : typeof value === 'number' && value >= 0;
          if (!['stageDelayMs', 'perLineDelayMs', 'linesPerSecond'].includes(key) || !ok) throw new Error(`bad speed field "${key}"`);
          Object.assign(out, { [key]: value });
        }
        return out;
      });
      this.setSpeed(speed);
      const { stageDelayMs, perLineDelayMs, linesPerSecond } = this.options;
      return sendJson(response, 200, { stageDelayMs, perLineDelayMs, linesPerSecond });
    }
    throw new ApiError(404, `Unknown control route ${method} ${path}.`, 'invalid_request_error', 'unknown_url');
  }
}

/**
 * Starts a local Files + Batches API, Groq's by default (`api: 'openai'` for OpenAI's): same routes, JSON
 * shapes, JSONL formats and error bodies, so the unmodified SDK works against it with
 * `baseURL: simulator.baseURL` (groq-sdk: the same as `url`).
 */
export async function startGroqSimulator(overrides: Partial<SimulatorOptions> = {}): Promise<GroqSimulator> {
  const options = resolveOptions(overrides);
  const simulation = new Simulation(options);
  const server: Server = createServer((request, response) => {
    simulation.handle(request, response).catch((error: unknown) => {
      if (response.headersSent) {
        response.destroy();
        return;
      }
      const apiError =
        error instanceof ApiError ? error : new ApiError(500, `Internal simulator error: ${(error as Error).message}`, 'internal_server_error', 'internal_server_error');
      sendApiError(response, apiError);
    });
  });
  server.listen(options.port, options.host);
  try {
    await once(server, 'listening');
  } catch (error) {
    simulation.files.destroy();
    throw new Error(`${options.api === 'openai' ? 'OpenAI' : 'Groq'} simulator could not listen on ${options.host}:${options.port}: ${(error as Error).message}`, { cause: error });
  }
  const port = (server.address() as AddressInfo).port;
  const host = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;

  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    api: options.api,
    url,
    baseURL: options.api === 'openai' ? `${url}/v1` : url,
    port,
    dataDir: simulation.files.dir,
    stats: () => simulation.stats.snapshot(),
    resetStats: () => simulation.stats.reset(),
    setFaults: (faults) => simulation.setFaults(faults),
    faults: () => ({ ...options.faults }),
    setProfile: (model, profile) => simulation.setProfile(model, profile),
    setSpeed: (speed) => simulation.setSpeed(speed),
    idle: () => simulation.idle(),
    stop: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await simulation.stop();
    },
  };
}
