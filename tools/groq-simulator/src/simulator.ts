import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync, type WriteStream } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { readMultipart } from './multipart.js';
import { analysePrText, valueForSchema } from './pr-analysis-content.js';

/** Per-model behaviour: how often lines fail and how. */
export interface ModelProfile {
  /** Share of lines that fail with an output problem (json_validate_failed or output too long). */
  failureRate: number;
  /** Of those, the share that is json_validate_failed (the rest run out of tokens). */
  jsonValidateShare: number;
  /** Occasional per-line 5xx. */
  serverErrorRate: number;
  contextTokens: number;
  supportsStrict: boolean;
}

export interface SimulatorFaults {
  shuffle: boolean;
  /** Share of lines written to neither file. */
  missingRate: number;
  /** Share of lines written as broken JSON. */
  malformedRate: number;
  /** Answer the first N API calls with 429 and a retry-after. */
  rateLimitFirst: number;
  /** Only calls to this route (e.g. `POST /openai/v1/batches`) count for `rateLimitFirst`; null: every route. */
  rateLimitRoute: string | null;
  /** Answer the first N file downloads with 503. */
  downloadErrorsFirst: number;
  /** Delay every API response by this many ms. */
  responseDelayMs: number;
  /** Stop processing after this share of lines and mark the batch expired (null: never). */
  expireAfterFraction: number | null;
  /** Whether the unfinished lines of an expired / cancelled batch appear in the error file (unconfirmed on Groq). */
  unfinishedInErrorFile: boolean;
  /** Fail every batch at validation. */
  failValidation: boolean;
  /** Create the next N batches, then drop the connection instead of answering. */
  dropCreateResponses: number;
}

export interface SimulatorOptions {
  host: string;
  port: number;
  seed: number;
  /** Time spent in validating and finalizing, and per line while in progress (0: as fast as possible). */
  stageDelayMs: number;
  perLineDelayMs: number;
  profiles: Record<string, ModelProfile>;
  defaultProfile: ModelProfile;
  faults: SimulatorFaults;
}

export const CHEAP_MODEL_PROFILE: ModelProfile = {
  failureRate: 0.04,
  jsonValidateShare: 0.935,
  serverErrorRate: 0.002,
  contextTokens: 131_072,
  supportsStrict: true,
};
export const STRONG_MODEL_PROFILE: ModelProfile = { ...CHEAP_MODEL_PROFILE, failureRate: 0, supportsStrict: false };

export const NO_FAULTS: SimulatorFaults = {
  shuffle: false,
  missingRate: 0,
  malformedRate: 0,
  rateLimitFirst: 0,
  rateLimitRoute: null,
  downloadErrorsFirst: 0,
  responseDelayMs: 0,
  expireAfterFraction: null,
  unfinishedInErrorFile: false,
  failValidation: false,
  dropCreateResponses: 0,
};

export const DEFAULT_SIMULATOR_OPTIONS: SimulatorOptions = {
  host: '127.0.0.1',
  port: 0,
  seed: 42,
  stageDelayMs: 0,
  perLineDelayMs: 0,
  profiles: {
    'openai/gpt-oss-20b': CHEAP_MODEL_PROFILE,
    'openai/gpt-oss-120b': { ...CHEAP_MODEL_PROFILE, failureRate: 0 },
    'llama-3.3-70b-versatile': STRONG_MODEL_PROFILE,
  },
  defaultProfile: STRONG_MODEL_PROFILE,
  faults: NO_FAULTS,
};

interface StoredFile {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  filename: string;
  purpose: string;
  path: string;
}

interface Batch {
  id: string;
  object: 'batch';
  endpoint: string;
  input_file_id: string;
  completion_window: string;
  status: string;
  created_at: number;
  in_progress_at?: number;
  finalizing_at?: number;
  completed_at?: number;
  failed_at?: number;
  expired_at?: number;
  cancelling_at?: number;
  cancelled_at?: number;
  expires_at: number;
  output_file_id: string | null;
  error_file_id: string | null;
  request_counts: { total: number; completed: number; failed: number };
  metadata: Record<string, string> | null;
  errors: { object: 'list'; data: Array<{ code: string; message: string; param: string | null; line: number | null }> } | null;
}

export interface SimulatorStats {
  calls: Record<string, number>;
  batchesCreated: number;
  linesProcessed: Record<string, number>;
  /** custom_id → outcome code (`ok` for success) for every processed line, per batch. */
  outcomes: Record<string, Record<string, string>>;
}

export interface GroqSimulator {
  url: string;
  port: number;
  stats(): SimulatorStats;
  resetStats(): void;
  setFaults(faults: Partial<SimulatorFaults>): void;
  setProfile(model: string, profile: Partial<ModelProfile>): void;
  setSpeed(speed: { stageDelayMs?: number; perLineDelayMs?: number }): void;
  /** Resolves when every batch created so far has reached a terminal status. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

const now = () => Math.floor(Date.now() / 1000);
const newId = (prefix: string) => `${prefix}_${randomBytes(13).toString('hex')}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const TERMINAL = new Set(['completed', 'failed', 'expired', 'cancelled']);

function apiError(response: ServerResponse, status: number, message: string, type: string, code: string | null = null, headers: Record<string, string> = {}) {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify({ error: { message, type, code } }));
}

function json(response: ServerResponse, status: number, body: unknown) {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

/** A local Groq Files + Batches API: same routes, JSON shapes, JSONL formats and error bodies. */
export async function startGroqSimulator(overrides: Partial<SimulatorOptions> = {}): Promise<GroqSimulator> {
  const options: SimulatorOptions = {
    ...DEFAULT_SIMULATOR_OPTIONS,
    ...overrides,
    profiles: { ...DEFAULT_SIMULATOR_OPTIONS.profiles, ...overrides.profiles },
    faults: { ...NO_FAULTS, ...overrides.faults },
  };
  const dir = mkdtempSync(join(tmpdir(), 'groq-sim-'));
  const files = new Map<string, StoredFile>();
  const batches = new Map<string, Batch>();
  const work = new Set<Promise<void>>();
  let stats: SimulatorStats = { calls: {}, batchesCreated: 0, linesProcessed: {}, outcomes: {} };
  let rateLimited = 0;
  let downloadErrors = 0;

  const unit = (...parts: Array<string | number>) =>
    createHash('sha256').update([options.seed, ...parts].join('\u0000')).digest().readUInt32BE(0) / 2 ** 32;
  const profileOf = (model: string) => options.profiles[model] ?? options.defaultProfile;

  function storeFile(path: string, filename: string, purpose: string): StoredFile {
    const file: StoredFile = { id: newId('file'), object: 'file', bytes: statSync(path).size, created_at: now(), filename, purpose, path };
    files.set(file.id, file);
    return file;
  }

  /** What one request line yields: a success body, or an error body with its HTTP status. */
  function answer(batchId: string, customId: string, body: Record<string, unknown>): { status: number; body: Record<string, unknown>; code: string } {
    const model = String(body.model);
    const profile = profileOf(model);
    const messages = (Array.isArray(body.messages) ? body.messages : []) as Array<{ role?: unknown; content?: unknown }>;
    const text = (m: { content?: unknown }) => (typeof m.content === 'string' ? m.content : '');
    const prompt = messages.map(text).join('\n');
    // The analysis reads the PR (the user turn), not the instructions that name the tools.
    const userText = messages.filter((m) => m.role === 'user').map(text).join('\n');
    const promptTokens = Math.ceil(prompt.length / 4);
    const maxTokens = typeof body.max_tokens === 'number' ? body.max_tokens : 1_024;
    const error = (status: number, type: string, code: string, message: string, extra: Record<string, unknown> = {}) => ({
      status,
      code,
      body: { error: { message, type, code, ...extra } },
    });
    if (promptTokens + maxTokens > profile.contextTokens) {
      return error(400, 'invalid_request_error', 'context_length_exceeded', `Please reduce the length of the messages or completion. This model's maximum context length is ${profile.contextTokens} tokens.`);
    }
    const format = body.response_format as { type?: string; json_schema?: { name?: string; strict?: boolean; schema?: unknown } } | undefined;
    if (format?.type === 'json_schema' && format.json_schema?.strict) {
      if (!profile.supportsStrict) {
        return error(400, 'invalid_request_error', 'invalid_request_error', `model ${model} does not support strict JSON schema mode; set strict to false`);
      }
      const problems = strictProblems(format.json_schema.schema);
      if (problems.length > 0) return error(400, 'invalid_request_error', 'invalid_json_schema', `invalid JSON schema for strict mode: ${problems[0]}`);
    }
    // Transient: a retry in another batch usually succeeds.
    if (unit('5xx', customId, model, batchId) < profile.serverErrorRate) {
      return error(500, 'internal_server_error', 'internal_server_error', 'Internal Server Error. Please try again.');
    }
    const schema = format?.json_schema?.schema as { properties?: Record<string, unknown> } | undefined;
    const isPrAnalysis = !schema || (schema.properties !== undefined && 'ai_tools' in schema.properties);
    const content = JSON.stringify(isPrAnalysis ? analysePrText(userText, `${customId}|${model}`) : valueForSchema(schema));
    if (unit('fail', customId, model) < profile.failureRate) {
      if (unit('kind', customId, model) < profile.jsonValidateShare) {
        return error(400, 'invalid_request_error', 'json_validate_failed', 'Failed to validate JSON. Please adjust your prompt. See \'failed_generation\' for more details.', {
          failed_generation: content.slice(0, Math.floor(content.length * (0.3 + unit('cut', customId) * 0.5))),
        });
      }
      // This request needs more room than the default budget: it fails until max_tokens grows.
      const needed = 1_100 + Math.floor(unit('need', customId) * 600);
      if (maxTokens < needed) {
        return error(400, 'invalid_request_error', 'max_tokens_exceeded', `The model output exceeded max_tokens (${maxTokens}) before the JSON was complete. Please increase max_tokens.`);
      }
    }
    const completionTokens = Math.ceil(content.length / 4) + 40;
    return {
      status: 200,
      code: 'ok',
      body: {
        id: `chatcmpl-${randomBytes(12).toString('hex')}`,
        object: 'chat.completion',
        created: now(),
        model,
        choices: [{ index: 0, message: { role: 'assistant', content }, logprobs: null, finish_reason: 'stop' }],
        usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
      },
    };
  }

  async function validateInput(batch: Batch, path: string): Promise<Batch['errors']> {
    const errors: NonNullable<Batch['errors']>['data'] = [];
    const seen = new Set<string>();
    let lineNumber = 0;
    for await (const raw of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
      lineNumber++;
      if (raw.trim() === '') continue;
      let line: { custom_id?: unknown; method?: unknown; url?: unknown; body?: { model?: unknown } };
      try {
        line = JSON.parse(raw);
      } catch {
        errors.push({ code: 'invalid_json_line', message: 'This line is not parseable as valid JSON.', param: null, line: lineNumber });
        continue;
      }
      if (typeof line.custom_id !== 'string' || line.custom_id === '') {
        errors.push({ code: 'missing_required_parameter', message: 'Missing required parameter: custom_id.', param: 'custom_id', line: lineNumber });
      } else if (seen.has(line.custom_id)) {
        errors.push({ code: 'duplicate_custom_id', message: `The custom_id ${line.custom_id} is duplicated in the input file.`, param: 'custom_id', line: lineNumber });
      } else seen.add(line.custom_id);
      if (line.method !== 'POST') errors.push({ code: 'invalid_method', message: 'Only POST is supported.', param: 'method', line: lineNumber });
      if (line.url !== batch.endpoint) errors.push({ code: 'invalid_url', message: `The url must be ${batch.endpoint}.`, param: 'url', line: lineNumber });
      if (typeof line.body?.model !== 'string') errors.push({ code: 'missing_required_parameter', message: 'Missing required parameter: body.model.', param: 'body.model', line: lineNumber });
      else if (!options.profiles[line.body.model]) errors.push({ code: 'model_not_found', message: `The model ${line.body.model} does not exist.`, param: 'body.model', line: lineNumber });
    }
    if (lineNumber === 0) errors.push({ code: 'empty_file', message: 'The input file is empty.', param: null, line: null });
    if (options.faults.failValidation) errors.push({ code: 'simulated_validation_failure', message: 'Simulated validation failure.', param: null, line: null });
    return errors.length > 0 ? { object: 'list', data: errors.slice(0, 100) } : null;
  }

  async function processBatch(batch: Batch): Promise<void> {
    const input = files.get(batch.input_file_id)!;
    await sleep(options.stageDelayMs);
    const errors = await validateInput(batch, input.path);
    if (errors) {
      Object.assign(batch, { status: 'failed', failed_at: now(), errors });
      return;
    }
    Object.assign(batch, { status: 'in_progress', in_progress_at: now() });
    let total = 0;
    for await (const raw of createInterface({ input: createReadStream(input.path), crlfDelay: Infinity })) if (raw.trim()) total++;
    batch.request_counts.total = total;

    const outPath = join(dir, `${batch.id}-output.jsonl`);
    const errPath = join(dir, `${batch.id}-errors.jsonl`);
    const out = createWriteStream(outPath);
    const err = createWriteStream(errPath);
    const pendingOut: string[] = [];
    const pendingErr: string[] = [];
    const outcomes: Record<string, string> = (stats.outcomes[batch.id] = {});
    const write = async (stream: WriteStream, buffer: string[], text: string) => {
      if (options.faults.shuffle) buffer.push(text);
      else if (!stream.write(`${text}\n`)) await once(stream, 'drain');
    };
    const stopAt = options.faults.expireAfterFraction === null ? Infinity : Math.floor(total * options.faults.expireAfterFraction);
    let processed = 0;
    let outLines = 0;
    let errLines = 0;
    const unfinished: string[] = [];
    for await (const raw of createInterface({ input: createReadStream(input.path), crlfDelay: Infinity })) {
      if (raw.trim() === '') continue;
      const line = JSON.parse(raw) as { custom_id: string; body: Record<string, unknown> };
      if (batch.status === 'cancelling' || processed >= stopAt) {
        unfinished.push(line.custom_id);
        continue;
      }
      processed++;
      const model = String(line.body.model);
      stats.linesProcessed[model] = (stats.linesProcessed[model] ?? 0) + 1;
      const result = answer(batch.id, line.custom_id, line.body);
      outcomes[line.custom_id] = result.code;
      if (result.status === 200) batch.request_counts.completed++;
      else batch.request_counts.failed++;
      if (unit('missing', line.custom_id, batch.id) < options.faults.missingRate) {
        outcomes[line.custom_id] = 'missing';
        continue;
      }
      const record = JSON.stringify({
        id: `batch_req_out_${randomBytes(13).toString('hex')}`,
        custom_id: line.custom_id,
        response: { status_code: result.status, request_id: `req_${randomBytes(13).toString('hex')}`, body: result.body },
        error: null,
      });
      const text = unit('malformed', line.custom_id, batch.id) < options.faults.malformedRate ? record.slice(0, Math.floor(record.length / 2)) : record;
      if (text !== record) outcomes[line.custom_id] = 'malformed';
      if (result.status === 200) {
        await write(out, pendingOut, text);
        outLines++;
      } else {
        await write(err, pendingErr, text);
        errLines++;
      }
      if (options.perLineDelayMs > 0) await sleep(options.perLineDelayMs);
      else if (processed % 200 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const endStatus = batch.status === 'cancelling' ? 'cancelled' : processed < total ? 'expired' : 'completed';
    const unfinishedCode = endStatus === 'expired' ? 'batch_expired' : 'batch_cancelled';
    // Recorded for tests whether or not the error file lists them (Groq's behaviour is unconfirmed).
    for (const customId of unfinished) outcomes[customId] = unfinishedCode;
    if (endStatus !== 'completed' && options.faults.unfinishedInErrorFile) {
      const code = unfinishedCode;
      for (const customId of unfinished) {
        await write(err, pendingErr, JSON.stringify({ id: `batch_req_out_${randomBytes(13).toString('hex')}`, custom_id: customId, response: null, error: { code, message: `This request could not be executed before the batch was ${endStatus}.` } }));
        errLines++;
      }
    }
    for (const [stream, buffer] of [
      [out, pendingOut],
      [err, pendingErr],
    ] as const) {
      for (let i = buffer.length - 1; i > 0; i--) {
        const j = Math.floor(unit('shuffle', batch.id, i) * (i + 1));
        [buffer[i], buffer[j]] = [buffer[j]!, buffer[i]!];
      }
      for (const text of buffer) if (!stream.write(`${text}\n`)) await once(stream, 'drain');
      stream.end();
      await once(stream, 'finish');
    }
    if (endStatus === 'completed') {
      batch.status = 'finalizing';
      batch.finalizing_at = now();
      await sleep(options.stageDelayMs);
    }
    // A batch in which every line failed completes with an error file and no output file.
    batch.output_file_id = outLines > 0 ? storeFile(outPath, `${batch.id}_output.jsonl`, 'batch_output').id : null;
    batch.error_file_id = errLines > 0 ? storeFile(errPath, `${batch.id}_errors.jsonl`, 'batch_output').id : null;
    batch.status = endStatus;
    const stamp = now();
    if (endStatus === 'completed') batch.completed_at = stamp;
    else if (endStatus === 'expired') batch.expired_at = stamp;
    else batch.cancelled_at = stamp;
  }

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (path.startsWith('/_sim/')) {
      if (path === '/_sim/stats' && request.method === 'GET') return json(response, 200, stats);
      if (path === '/_sim/faults' && request.method === 'POST') {
        Object.assign(options.faults, await readJson(request));
        return json(response, 200, options.faults);
      }
      if (path === '/_sim/reset' && request.method === 'POST') {
        stats = { calls: {}, batchesCreated: 0, linesProcessed: {}, outcomes: {} };
        return json(response, 200, { ok: true });
      }
      return apiError(response, 404, 'unknown control route', 'invalid_request_error');
    }
    const key = `${request.method} ${path.replace(/\/(file|batch)_[0-9a-f]+/, '/{id}')}`;
    stats.calls[key] = (stats.calls[key] ?? 0) + 1;
    if (!/^Bearer \S+/.test(request.headers.authorization ?? '')) {
      return apiError(response, 401, 'Invalid API Key', 'invalid_request_error', 'invalid_api_key');
    }
    if (options.faults.responseDelayMs > 0) await sleep(options.faults.responseDelayMs);
    if (rateLimited < options.faults.rateLimitFirst && (options.faults.rateLimitRoute === null || options.faults.rateLimitRoute === key.replace('/{id}', ''))) {
      rateLimited++;
      return apiError(response, 429, 'Rate limit reached. Please try again in 200ms.', 'rate_limit_exceeded', 'rate_limit_exceeded', {
        'retry-after': '0.2',
        'retry-after-ms': '200',
      });
    }
    const match = /^\/openai\/v1\/(files|batches)(?:\/([^/]+))?(?:\/(content|cancel))?$/.exec(path);
    if (!match) return apiError(response, 404, `Unknown route ${request.method} ${path}`, 'invalid_request_error', 'unknown_url');
    const [, resource, id, action] = match;

    if (resource === 'files') {
      if (!id && request.method === 'POST') {
        const upload = await readMultipart(request, join(dir, `${newId('upload')}.jsonl`));
        if (!upload.file) return apiError(response, 400, "'file' is a required property", 'invalid_request_error');
        if (upload.fields.purpose !== 'batch') return apiError(response, 400, "purpose must be 'batch'", 'invalid_request_error');
        const { path: _path, ...file } = storeFile(upload.file.path, upload.file.filename, 'batch');
        return json(response, 200, file);
      }
      if (!id && request.method === 'GET') {
        return json(response, 200, { object: 'list', data: [...files.values()].map(({ path: _p, ...f }) => f) });
      }
      const file = id ? files.get(id) : undefined;
      if (!file) return apiError(response, 404, `No such file: ${id}`, 'invalid_request_error', 'not_found');
      if (action === 'content' && request.method === 'GET') {
        if (downloadErrors < options.faults.downloadErrorsFirst) {
          downloadErrors++;
          return apiError(response, 503, 'Service Unavailable', 'service_unavailable', 'service_unavailable');
        }
        response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(file.bytes) });
        createReadStream(file.path).pipe(response);
        return;
      }
      if (request.method === 'DELETE') {
        files.delete(file.id);
        return json(response, 200, { id: file.id, object: 'file', deleted: true });
      }
      const { path: _path, ...info } = file;
      return json(response, 200, info);
    }

    if (!id && request.method === 'POST') {
      const body = await readJson(request);
      const inputFileId = String(body.input_file_id ?? '');
      if (!files.has(inputFileId)) return apiError(response, 400, `input_file_id ${inputFileId} not found`, 'invalid_request_error');
      if (body.endpoint !== '/v1/chat/completions') return apiError(response, 400, 'endpoint must be /v1/chat/completions', 'invalid_request_error');
      const window = String(body.completion_window ?? '');
      const windowMatch = /^(\d+)(h|d)$/.exec(window);
      const hours = windowMatch ? Number(windowMatch[1]) * (windowMatch[2] === 'd' ? 24 : 1) : 0;
      if (hours < 24 || hours > 168) return apiError(response, 400, 'completion_window must be between 24h and 7d', 'invalid_request_error');
      const batch: Batch = {
        id: newId('batch'),
        object: 'batch',
        endpoint: '/v1/chat/completions',
        input_file_id: inputFileId,
        completion_window: window,
        status: 'validating',
        created_at: now(),
        expires_at: now() + hours * 3_600,
        output_file_id: null,
        error_file_id: null,
        request_counts: { total: 0, completed: 0, failed: 0 },
        metadata: (body.metadata as Record<string, string> | undefined) ?? null,
        errors: null,
      };
      batches.set(batch.id, batch);
      stats.batchesCreated++;
      const job = processBatch(batch)
        .catch((error: unknown) => Object.assign(batch, { status: 'failed', failed_at: now(), errors: { object: 'list', data: [{ code: 'internal_error', message: String(error), param: null, line: null }] } }))
        .then(() => undefined);
      work.add(job);
      void job.finally(() => work.delete(job));
      if (options.faults.dropCreateResponses > 0) {
        options.faults.dropCreateResponses--;
        request.socket.destroy();
        return;
      }
      return json(response, 200, batch);
    }
    if (!id && request.method === 'GET') {
      const data = [...batches.values()].sort((a, b) => b.created_at - a.created_at);
      return json(response, 200, { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: false });
    }
    const batch = id ? batches.get(id) : undefined;
    if (!batch) return apiError(response, 404, `No such batch: ${id}`, 'invalid_request_error', 'not_found');
    if (action === 'cancel' && request.method === 'POST') {
      if (TERMINAL.has(batch.status)) return apiError(response, 409, `Cannot cancel a batch with status ${batch.status}`, 'invalid_request_error');
      batch.status = 'cancelling';
      batch.cancelling_at = now();
      return json(response, 200, batch);
    }
    return json(response, 200, batch);
  }

  const server: Server = createServer((request, response) => {
    route(request, response).catch((error: unknown) => {
      if (!response.headersSent) apiError(response, 500, `simulator error: ${(error as Error).message}`, 'internal_server_error');
      else response.destroy();
    });
  });
  server.listen(options.port, options.host);
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;

  return {
    url: `http://${options.host}:${port}`,
    port,
    stats: () => structuredClone(stats),
    resetStats: () => {
      stats = { calls: {}, batchesCreated: 0, linesProcessed: {}, outcomes: {} };
    },
    setFaults: (faults) => Object.assign(options.faults, faults),
    setSpeed: (speed) => {
      if (speed.stageDelayMs !== undefined) options.stageDelayMs = speed.stageDelayMs;
      if (speed.perLineDelayMs !== undefined) options.perLineDelayMs = speed.perLineDelayMs;
    },
    setProfile: (model, profile) => {
      options.profiles[model] = { ...profileOf(model), ...profile };
    },
    idle: async () => {
      while (work.size > 0) await Promise.all([...work]);
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...work]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The strict-mode rules Groq applies to a JSON schema. */
export function strictProblems(schema: unknown, path = '#'): string[] {
  if (typeof schema !== 'object' || schema === null) return [];
  const node = schema as { type?: unknown; properties?: Record<string, unknown>; required?: unknown; additionalProperties?: unknown; items?: unknown };
  const problems: string[] = [];
  if ((Array.isArray(node.type) ? node.type : [node.type]).includes('null')) problems.push(`${path} allows null`);
  if (node.type === 'object' || node.properties) {
    if (node.additionalProperties !== false) problems.push(`${path} must set additionalProperties: false`);
    const required = new Set(Array.isArray(node.required) ? (node.required as string[]) : []);
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      if (!required.has(key)) problems.push(`${path}/properties/${key} must be required`);
      problems.push(...strictProblems(child, `${path}/properties/${key}`));
    }
  }
  if (node.items) problems.push(...strictProblems(node.items, `${path}/items`));
  return problems;
}
