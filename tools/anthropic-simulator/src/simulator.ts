import { once } from 'node:events';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { AttemptCounter } from '../../groq-simulator/src/batch-runner.js';
import { discard } from '../../groq-simulator/src/file-store.js';
import { type SimulatorStats, StatsRecorder } from '../../groq-simulator/src/stats.js';
import { lineDigest } from '../../groq-simulator/src/line-answer.js';
import { type BatchJob, type MessageBatchObject, runMessageBatch } from './batch-runner.js';
import { answerMessageRequest } from './message-answer.js';
import { anthropicId, ApiError, delay, readSmallJson, rfc3339, sendApiError, sendJson } from './http.js';
import {
  type AnthropicModelProfile,
  type AnthropicSimulatorFaults,
  type AnthropicSimulatorOptions,
  parseFaults,
  parseProfile,
  resolveOptions,
  STRONG_CLAUDE_PROFILE,
} from './options.js';
import { storeRequests } from './requests-body.js';

export * from './options.js';
export type { MessageBatchObject, ProcessingStatus, RequestCounts } from './batch-runner.js';
export type { ClaudeMessage, RequestResult } from './message-answer.js';
export type { SimulatorStats } from '../../groq-simulator/src/stats.js';

export interface SimulatorSpeed {
  stageDelayMs?: number;
  perLineDelayMs?: number;
  linesPerSecond?: number | null;
}

export interface AnthropicSimulator {
  /** The host root, e.g. `http://127.0.0.1:18090`: give it to @anthropic-ai/sdk as `baseURL` (the SDK adds `/v1`). */
  url: string;
  port: number;
  /** The simulator's own directory for request and result files; removed by stop(). */
  dataDir: string;
  stats(): SimulatorStats;
  resetStats(): void;
  /** Changes faults from now on; setting a `…First` count restarts its counter. */
  setFaults(faults: Partial<AnthropicSimulatorFaults>): void;
  faults(): AnthropicSimulatorFaults;
  setProfile(model: string, profile: Partial<AnthropicModelProfile>): void;
  setSpeed(speed: SimulatorSpeed): void;
  /** Resolves when every batch created so far has ended. */
  idle(): Promise<void>;
  /** Stops the server, abandons running batches and removes every file the simulator wrote. */
  stop(): Promise<void>;
}

const API_ROUTE = /^\/v1\/messages\/batches(?:\/([^/]+))?(?:\/(cancel|results))?\/?$/;

/** `POST /v1/messages/batches/{id}/cancel` style keys, one per route, for the call counters and `rateLimitRoute`. */
function routeKey(method: string, path: string): string {
  const match = API_ROUTE.exec(path);
  if (!match) return `${method} ${path}`;
  const [, id, action] = match;
  return `${method} /v1/messages/batches${id ? '/{id}' : ''}${action ? `/${action}` : ''}`;
}

/** The billed account's entry (in place of a batch id) of the on-demand messages answered. */
export const ON_DEMAND_ACCOUNT = 'on-demand';

/** The HTTP status of each error type, as Anthropic's API answers them. */
const ERROR_STATUS: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  overloaded_error: 529,
};

/** The 5xx answers of `serverErrorsFirst`, in turn. */
const SERVER_ERRORS: Array<[number, string, string]> = [
  [500, 'api_error', 'Internal server error'],
  [529, 'overloaded_error', 'Overloaded'],
  [502, 'api_error', 'Bad gateway'],
];

const DAY_MS = 24 * 3_600_000;

/** The simulator's state and its HTTP API: Anthropic's Message Batches routes plus the `/_sim/` control routes. */
class Simulation {
  readonly stats = new StatsRecorder();
  readonly dir = mkdtempSync(join(tmpdir(), 'anthropic-simulator-'));
  private readonly jobs = new Map<string, BatchJob>();
  private readonly running = new Set<Promise<void>>();
  private readonly attempts = new AttemptCounter();
  private readonly rateLimited = new Map<string, number>();
  private serverErrors = 0;
  private resultsErrors = 0;
  private createErrorsAfterWork = 0;
  /** Set once listening: where `results_url` points. */
  url = '';
  stopping = false;

  constructor(readonly options: AnthropicSimulatorOptions) {}

  setFaults(patch: Partial<AnthropicSimulatorFaults>): void {
    Object.assign(this.options.faults, patch);
    if ('rateLimitFirst' in patch || 'rateLimitRoute' in patch) this.rateLimited.clear();
    if ('serverErrorsFirst' in patch) this.serverErrors = 0;
    if ('resultsErrorsFirst' in patch) this.resultsErrors = 0;
    if ('createErrorsAfterWorkFirst' in patch) this.createErrorsAfterWork = 0;
  }

  setProfile(model: string, profile: Partial<AnthropicModelProfile>): void {
    this.options.profiles[model] = { ...(this.options.profiles[model] ?? STRONG_CLAUDE_PROFILE), ...profile };
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
    rmSync(this.dir, { recursive: true, force: true });
  }

  async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://simulator');
    const method = request.method ?? 'GET';
    if (url.pathname.startsWith('/_sim/')) return this.control(method, url.pathname, request, response);

    const key = routeKey(method, url.pathname);
    this.stats.call(key);
    // The API documents `x-api-key`; the SDK (1.x) sends the key as a bearer token. Either counts.
    const apiKey = request.headers['x-api-key'] ?? /^Bearer\s+(\S+)/i.exec(request.headers.authorization ?? '')?.[1];
    if (!apiKey) throw new ApiError(401, 'authentication_error', 'x-api-key header is required');
    if (!request.headers['anthropic-version']) throw new ApiError(400, 'invalid_request_error', 'anthropic-version: header is required');
    const faults = this.options.faults;
    if (faults.responseDelayMs > 0) await delay(faults.responseDelayMs);
    if (faults.rateLimitFirst > 0 && (faults.rateLimitRoute === null || faults.rateLimitRoute === key)) {
      const counter = faults.rateLimitRoute ?? '*';
      const seen = this.rateLimited.get(counter) ?? 0;
      if (seen < faults.rateLimitFirst) {
        this.rateLimited.set(counter, seen + 1);
        const seconds = Math.max(1, Math.ceil(faults.rateLimitRetryAfterMs / 1000));
        throw new ApiError(429, 'rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit.', {
          'retry-after': String(seconds),
          'anthropic-ratelimit-requests-remaining': '0',
        });
      }
    }
    if (this.serverErrors < faults.serverErrorsFirst) {
      const [status, type, message] = SERVER_ERRORS[this.serverErrors++ % SERVER_ERRORS.length]!;
      throw new ApiError(status, type, message);
    }

    if (url.pathname === '/v1/messages') {
      if (method !== 'POST') throw this.methodNotAllowed(method);
      return this.createMessage(request, response);
    }
    const match = API_ROUTE.exec(url.pathname);
    if (!match) throw new ApiError(404, 'not_found_error', `Not found: ${method} ${url.pathname}`);
    const [, id, action] = match;
    if (!id) {
      if (method === 'POST') return this.createBatch(request, response);
      if (method === 'GET') return sendJson(response, 200, this.listBatches(url.searchParams));
      throw this.methodNotAllowed(method);
    }
    const job = this.jobs.get(id);
    if (!job) throw this.notFound(id);
    if (!action && method === 'GET') {
      this.quirkyNotFound(job);
      return sendJson(response, 200, job.batch);
    }
    if (!action && method === 'DELETE') return this.deleteBatch(job, response);
    if (action === 'cancel' && method === 'POST') return this.cancelBatch(job, response);
    if (action === 'results' && method === 'GET') return this.results(job, response);
    throw this.methodNotAllowed(method);
  }

  private notFound(id: string): ApiError {
    return new ApiError(404, 'not_found_error', `Message batch ${id} not found.`);
  }

  /** Anthropic's documented quirk: for a short while after create, retrieve and results may answer 404. */
  private quirkyNotFound(job: BatchJob): void {
    const window = this.options.faults.notFoundAfterCreateMs;
    if (window > 0 && this.options.clock() - job.createdAtMs < window) throw this.notFound(job.batch.id);
  }

  /**
   * On-demand Messages: the result a batch request with these params would get (`answerMessageRequest`, keyed
   * by a digest of the params since a message has no custom_id), at once: a succeeded one as the Message, an
   * errored one as its error body under the HTTP status Anthropic gives that type. Billed at full price (twice
   * `prices`) under the account's `on-demand` entry; the batch path's faults do not apply, the route's do.
   */
  private async createMessage(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const params = await readSmallJson(request);
    const model = typeof params.model === 'string' ? params.model : '';
    const digest = lineDigest(JSON.stringify(params));
    const customId = `on-demand-${digest}`;
    const answer = answerMessageRequest(customId, params, { seed: this.options.seed, model, profile: this.options.profiles[model], attempt: this.attempts.next(customId, model, digest), digest });
    this.stats.lineProcessed(model);
    this.stats.outcome(ON_DEMAND_ACCOUNT, customId, answer.outcome);
    const price = this.options.prices[model];
    if (answer.billed) this.stats.billed(ON_DEMAND_ACCOUNT, model, answer.billed, price && { inputPerMillion: price.inputPerMillion * 2, outputPerMillion: price.outputPerMillion * 2 }, false);
    const { result } = answer;
    if (result.type === 'succeeded') return sendJson(response, 200, { ...result.message, usage: { ...result.message.usage, service_tier: 'standard' } });
    if (result.type === 'errored') return sendJson(response, ERROR_STATUS[result.error.error.type] ?? 500, result.error);
    throw new ApiError(500, 'api_error', `unexpected ${result.type} result for an on-demand message`);
  }

  private async createBatch(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const requestsPath = join(this.dir, `${anthropicId('requests')}.jsonl`);
    let stored;
    try {
      stored = await storeRequests(request, requestsPath, { maxBytes: this.options.maxBodyBytes, maxRequests: this.options.maxRequestsPerBatch });
    } catch (error) {
      discard(requestsPath);
      throw error;
    }
    const nowMs = this.options.clock();
    const id = anthropicId('msgbatch');
    const batch: MessageBatchObject = {
      id,
      type: 'message_batch',
      processing_status: 'in_progress',
      request_counts: { processing: stored.count, succeeded: 0, errored: 0, canceled: 0, expired: 0 },
      ended_at: null,
      created_at: rfc3339(nowMs),
      expires_at: rfc3339(nowMs + DAY_MS),
      archived_at: null,
      cancel_initiated_at: null,
      results_url: null,
    };
    const job: BatchJob = {
      batch,
      createdAtMs: nowMs,
      expiresAtMs: nowMs + DAY_MS,
      total: stored.count,
      requestsPath,
      resultsPath: join(this.dir, `${id}.results.jsonl`),
      resultsUrl: `${this.url}/v1/messages/batches/${id}/results`,
      cancelRequested: false,
    };
    this.jobs.set(id, job);
    this.stats.batchCreated();
    // The answer is a snapshot taken now; processing goes on after it.
    const snapshot = JSON.stringify(batch);
    const run = runMessageBatch(job, { options: this.options, stats: this.stats, attempts: this.attempts, isStopping: () => this.stopping })
      .catch((error: unknown) => {
        // A batch the simulator failed to run ends with no results rather than hanging for ever.
        process.emitWarning(`anthropic simulator: batch ${id} failed: ${(error as Error).message}`);
        Object.assign(batch, { processing_status: 'ended', ended_at: rfc3339(this.options.clock()), results_url: job.resultsUrl });
      })
      .finally(() => this.running.delete(run));
    this.running.add(run);
    if (this.options.faults.dropCreateResponses > 0) {
      // The batch exists, but the client never hears of it: the lost-response case a create must survive.
      this.options.faults.dropCreateResponses--;
      request.socket.destroy();
      return;
    }
    if (this.createErrorsAfterWork < this.options.faults.createErrorsAfterWorkFirst) {
      // The batch exists and runs, but the client is told the create failed: a retry without a lookup creates it twice.
      this.createErrorsAfterWork++;
      throw new ApiError(500, 'api_error', 'Internal server error');
    }
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(snapshot)), 'request-id': anthropicId('req') });
    response.end(snapshot);
  }

  private cancelBatch(job: BatchJob, response: ServerResponse): void {
    const { batch } = job;
    if (batch.processing_status === 'ended') {
      throw new ApiError(400, 'invalid_request_error', `Message batch ${batch.id} has already ended and cannot be canceled.`);
    }
    if (batch.processing_status === 'in_progress') {
      job.cancelRequested = true;
      Object.assign(batch, { processing_status: 'canceling', cancel_initiated_at: rfc3339(this.options.clock()) });
    }
    sendJson(response, 200, batch);
  }

  private deleteBatch(job: BatchJob, response: ServerResponse): void {
    const { batch } = job;
    if (batch.processing_status !== 'ended') {
      throw new ApiError(400, 'invalid_request_error', `Message batch ${batch.id} is still processing: cancel it and wait for it to end before deleting it.`);
    }
    this.jobs.delete(batch.id);
    discard(job.requestsPath);
    discard(job.resultsPath);
    sendJson(response, 200, { id: batch.id, type: 'message_batch_deleted' });
  }

  private async results(job: BatchJob, response: ServerResponse): Promise<void> {
    this.quirkyNotFound(job);
    if (job.batch.processing_status !== 'ended') {
      throw new ApiError(400, 'invalid_request_error', `Message batch ${job.batch.id} has not ended yet: its results are available once processing_status is ended.`);
    }
    if (this.resultsErrors < this.options.faults.resultsErrorsFirst) {
      this.resultsErrors++;
      throw new ApiError(529, 'overloaded_error', 'Overloaded');
    }
    response.writeHead(200, { 'content-type': 'application/binary', 'request-id': anthropicId('req') });
    // A client that goes away mid-download is its own business.
    await pipeline(createReadStream(job.resultsPath), response).catch(() => undefined);
  }

  /**
   * Newest first, Anthropic's paging: `limit` (default 20, 1..1000), `after_id` (the page after that
   * batch: older ones) or `before_id` (the page just before it: newer ones). Batches younger than
   * `listDelayMs` are left out: an eventually consistent listing.
   */
  private listBatches(query: URLSearchParams): Record<string, unknown> {
    const limitText = query.get('limit');
    const limit = limitText === null ? 20 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new ApiError(400, 'invalid_request_error', 'limit: Input should be an integer between 1 and 1000');
    }
    const listedBefore = this.options.clock() - this.options.faults.listDelayMs;
    // Map order is creation order: reversed, newest first.
    const all = [...this.jobs.values()].filter((job) => this.options.faults.listDelayMs === 0 || job.createdAtMs <= listedBefore).reverse().map((job) => job.batch);
    const afterId = query.get('after_id');
    const beforeId = query.get('before_id');
    let data: MessageBatchObject[];
    let hasMore: boolean;
    if (beforeId) {
      const at = all.findIndex((batch) => batch.id === beforeId);
      const newer = at >= 0 ? all.slice(0, at) : [];
      data = newer.slice(Math.max(0, newer.length - limit));
      hasMore = newer.length > limit;
    } else {
      const at = afterId ? all.findIndex((batch) => batch.id === afterId) : -1;
      const older = afterId ? (at >= 0 ? all.slice(at + 1) : []) : all;
      data = older.slice(0, limit);
      hasMore = older.length > limit;
    }
    return { data, has_more: hasMore, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
  }

  private methodNotAllowed(method: string): ApiError {
    return new ApiError(405, 'invalid_request_error', `Method ${method} is not allowed on this route.`);
  }

  /** Out-of-process control: stats, faults, model profiles, speed, reset. No auth: it listens on loopback. */
  private async control(method: string, path: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
    const parse = <T>(fn: () => T): T => {
      try {
        return fn();
      } catch (error) {
        throw new ApiError(400, 'invalid_request_error', `${method} ${path}: ${(error as Error).message}`);
      }
    };
    if (method === 'GET' && path === '/_sim/stats') return sendJson(response, 200, this.stats.snapshot());
    if (method === 'GET' && path === '/_sim/faults') return sendJson(response, 200, this.options.faults);
    if (method === 'POST' && path === '/_sim/faults') {
      const body = await readSmallJson(request);
      this.setFaults(parse(() => parseFaults(body)));
      return sendJson(response, 200, this.options.faults);
    }
    if (method === 'POST' && path === '/_sim/reset') {
      this.stats.reset();
      return sendJson(response, 200, { reset: true });
    }
    if (method === 'GET' && path === '/_sim/profiles') return sendJson(response, 200, this.options.profiles);
    if (method === 'POST' && path === '/_sim/profiles') {
      const body = await readSmallJson(request);
      const profiles = parse(() => Object.entries(body).map(([model, profile]) => [model, parseProfile(profile)] as const));
      for (const [model, profile] of profiles) this.setProfile(model, profile);
      return sendJson(response, 200, this.options.profiles);
    }
    if (method === 'POST' && path === '/_sim/speed') {
      const body = await readSmallJson(request);
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
    throw new ApiError(404, 'not_found_error', `Unknown control route ${method} ${path}.`);
  }
}

/**
 * Starts a local Anthropic Message Batches API: same routes, JSON shapes, JSONL results and error
 * bodies, so unmodified @anthropic-ai/sdk works against it with `baseURL: simulator.url`.
 */
export async function startAnthropicSimulator(overrides: Partial<AnthropicSimulatorOptions> = {}): Promise<AnthropicSimulator> {
  const options = resolveOptions(overrides);
  const simulation = new Simulation(options);
  const server: Server = createServer((request, response) => {
    simulation.handle(request, response).catch((error: unknown) => {
      if (response.headersSent) {
        response.destroy();
        return;
      }
      sendApiError(response, error instanceof ApiError ? error : new ApiError(500, 'api_error', `Internal simulator error: ${(error as Error).message}`));
    });
  });
  server.listen(options.port, options.host);
  try {
    await once(server, 'listening');
  } catch (error) {
    rmSync(simulation.dir, { recursive: true, force: true });
    throw new Error(`Anthropic simulator could not listen on ${options.host}:${options.port}: ${(error as Error).message}`, { cause: error });
  }
  const port = (server.address() as AddressInfo).port;
  const host = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  simulation.url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  return {
    url: simulation.url,
    port,
    dataDir: simulation.dir,
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
