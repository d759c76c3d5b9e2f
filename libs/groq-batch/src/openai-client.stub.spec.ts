import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BATCH_KEY_METADATA, type BatchClientOptions } from './compatible-client.js';
import { BatchApiError } from './errors.js';
import { OpenAiBatchClient } from './openai-client.js';
import { DEFAULT_OPENAI_BATCH_CONFIG, type OpenAiBatchConfig } from './openai-config.js';
import { reconcileBatch } from './reconcile.js';
import { successLine } from './testing/groq-lines.js';
import { batchObject, sendJson, startStubServer, type StubHandler, type StubServer } from './testing/stub-server.js';

/** Shaped like an OpenAI project key, so that its absence from every error can be asserted. */
const FAKE_KEY = 'sk-proj-FAKEdoNotLeak0123456789abcdef';

const noWait = async () => undefined;

describe('OpenAiBatchClient against a stub provider', () => {
  let stub: StubServer | null = null;
  let dir: string;

  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'openai-client-spec-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => {
    await stub?.stop();
    stub = null;
  });

  async function clientFor(handler: StubHandler, config: Partial<OpenAiBatchConfig> = {}, options: BatchClientOptions = { sleep: noWait }) {
    stub = await startStubServer(handler);
    const client = new OpenAiBatchClient({ ...DEFAULT_OPENAI_BATCH_CONFIG, apiKey: FAKE_KEY, baseURL: `${stub.url}/v1`, maxRetries: 3, timeoutMs: 5_000, ...config }, options);
    return { client, requests: stub.requests };
  }

  async function failure(promise: Promise<unknown>): Promise<BatchApiError> {
    const error = await promise.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BatchApiError);
    return error as BatchApiError;
  }

  function expectNoKey(error: Error) {
    const everything = `${error.message}\n${error.stack}\n${JSON.stringify(error)}\n${String(error)}`;
    expect(everything).not.toContain(FAKE_KEY);
    expect(everything).not.toContain('doNotLeak');
  }

  const routes = (requests: StubServer['requests']) => requests.map((r) => `${r.method} ${r.path}${r.query.size ? `?${r.query.toString()}` : ''}`);

  it('streams an upload to POST {baseURL}/files with bearer auth and purpose batch', async () => {
    const path = join(dir, 'input.jsonl');
    const content = '{"custom_id":"r-1","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4.1-mini"}}\n';
    writeFileSync(path, content);
    const { client, requests } = await clientFor((_req, res) => sendJson(res, 200, { id: 'file-abc', object: 'file', bytes: content.length, filename: 'input.jsonl', purpose: 'batch', created_at: 1 }));
    expect(await client.uploadInputFile(path)).toEqual({ id: 'file-abc', bytes: content.length, filename: 'input.jsonl', purpose: 'batch', created_at: 1 });
    expect(requests[0]).toMatchObject({ method: 'POST', path: '/v1/files' });
    expect(requests[0]!.headers.authorization).toBe(`Bearer ${FAKE_KEY}`);
    expect(requests[0]!.body.toString()).toContain('name="purpose"\r\n\r\nbatch\r\n');
    expect(requests[0]!.body.toString()).toContain(content);
  });

  describe('create with a batch key', () => {
    /** Keeps the batches it created and lists them newest first, OpenAI-style, `limit` at a time. */
    function provider(onCreate: (n: number) => 'ok' | 'drop' | 500) {
      const batches: Array<Record<string, unknown>> = [];
      let creates = 0;
      const handler: StubHandler = (req, res) => {
        if (req.method === 'POST' && req.path === '/v1/batches') {
          const body = JSON.parse(req.body.toString()) as Record<string, unknown>;
          const batch = batchObject(`batch_${batches.length + 1}`, { input_file_id: body.input_file_id, completion_window: body.completion_window, metadata: body.metadata });
          batches.unshift(batch);
          const behaviour = onCreate(++creates);
          if (behaviour === 'drop') return void res.socket?.destroy();
          if (behaviour === 500) return sendJson(res, 500, { error: { message: 'The server had an error while processing your request.', type: 'server_error' } });
          return sendJson(res, 200, batch);
        }
        if (req.method === 'GET' && req.path === '/v1/batches') {
          const after = req.query.get('after');
          const from = after ? batches.findIndex((b) => b.id === after) + 1 : 0;
          const limit = Number(req.query.get('limit') ?? 20);
          const data = batches.slice(from, from + limit);
          return sendJson(res, 200, { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: from + limit < batches.length });
        }
        sendJson(res, 404, { error: { message: 'not found', type: 'invalid_request_error' } });
      };
      return { handler, batches, creates: () => creates };
    }

    it('sends the 24h window and metadata carrying the key, pass and prompt version', async () => {
      const p = provider(() => 'ok');
      const { client, requests } = await clientFor(p.handler);
      await client.createBatch({ inputFileId: 'file-in', batchKey: 'k-1', pass: 1, promptVersion: 'pr-analysis-v1' });
      expect(JSON.parse(requests[0]!.body.toString())).toEqual({
        input_file_id: 'file-in',
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
        metadata: { [BATCH_KEY_METADATA]: 'k-1', cascade_pass: '1', cascade_prompt_version: 'pr-analysis-v1' },
      });
    });

    it('adopts the batch when the create answer is lost or is a 500, instead of creating a second one', async () => {
      for (const fault of ['drop', 500] as const) {
        const p = provider((n) => (n === 1 ? fault : 'ok'));
        const adopted: string[] = [];
        const { client, requests } = await clientFor(p.handler, {}, { sleep: noWait, onAdopt: (b, key) => adopted.push(`${b.id}:${key}`) });
        expect((await client.createBatch({ inputFileId: 'file-in', batchKey: `k-${fault}` })).id).toBe('batch_1');
        expect(p.creates()).toBe(1);
        expect(routes(requests)).toEqual(['POST /v1/batches', 'GET /v1/batches?limit=100']);
        expect(adopted).toEqual([`batch_1:k-${fault}`]);
        await stub!.stop();
        stub = null;
      }
    });

    it('refuses a completion window other than 24h before calling', async () => {
      const { client, requests } = await clientFor(provider(() => 'ok').handler);
      await expect(client.createBatch({ inputFileId: 'f', batchKey: 'k', completionWindow: '48h' })).rejects.toThrow(/completionWindow: "48h" is not a completion window OpenAI accepts \(only 24h\)/);
      expect(requests).toHaveLength(0);
    });

    it('finds a batch by key past the first page, paging with after = the last id while has_more', async () => {
      const p = provider(() => 'ok');
      const { client, requests } = await clientFor(p.handler, { listPageSize: 2 });
      for (let i = 1; i <= 5; i++) await client.createBatch({ inputFileId: 'file-in', batchKey: `k-${i}` });
      requests.length = 0;
      expect((await client.findBatchByKey('k-1'))?.id).toBe('batch_1');
      expect(routes(requests)).toEqual(['GET /v1/batches?limit=2', 'GET /v1/batches?limit=2&after=batch_4', 'GET /v1/batches?limit=2&after=batch_2']);
      const first = await client.listBatches();
      expect({ ids: first.data.map((b) => b.id), next: first.nextCursor }).toEqual({ ids: ['batch_5', 'batch_4'], next: 'batch_4' });
      const last = await client.listBatches({ cursor: 'batch_2' });
      expect({ ids: last.data.map((b) => b.id), next: last.nextCursor }).toEqual({ ids: ['batch_1'], next: null });
      expect(await client.findBatchByKey('k-absent')).toBeNull();
    });
  });

  it('lists files across pages and deletes one', async () => {
    const files = ['file-1', 'file-2', 'file-3'].map((id) => ({ id, object: 'file', bytes: 10, filename: `${id}.jsonl`, purpose: 'batch', created_at: 1 }));
    const { client, requests } = await clientFor((req, res) => {
      if (req.method === 'DELETE') return sendJson(res, 200, { id: 'file-2', object: 'file', deleted: true });
      return req.query.get('after') === 'file-2'
        ? sendJson(res, 200, { object: 'list', data: files.slice(2), has_more: false })
        : sendJson(res, 200, { object: 'list', data: files.slice(0, 2), has_more: true });
    });
    expect((await client.listFiles()).map((f) => f.id)).toEqual(['file-1', 'file-2', 'file-3']);
    await client.deleteFile('file-2');
    expect(routes(requests)).toEqual(['GET /v1/files', 'GET /v1/files?after=file-2', 'DELETE /v1/files/file-2']);
  });

  it('retries a 429 on retrieve with the wait OpenAI asked for, then a 503 with backoff', async () => {
    let calls = 0;
    const waits: number[] = [];
    const { client, requests } = await clientFor(
      (_req, res) => {
        calls++;
        if (calls === 1) return sendJson(res, 429, { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } }, { 'retry-after-ms': '300' });
        if (calls === 2) return sendJson(res, 503, { error: { message: 'overloaded', type: 'server_error' } });
        return sendJson(res, 200, batchObject('batch_r', { status: 'in_progress' }));
      },
      {},
      { sleep: async (ms) => void waits.push(ms), random: () => 0 },
    );
    expect((await client.retrieveBatch('batch_r')).status).toBe('in_progress');
    expect(waits).toEqual([300, 500]);
    expect(routes(requests)).toEqual(Array(3).fill('GET /v1/batches/batch_r'));
  });

  it('streams output and error files in OpenAI formats and reconciles every sent id', async () => {
    const expired = JSON.stringify({ id: 'batch_req_3', custom_id: 'pr-3', response: null, error: { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' } });
    const timedOut = JSON.stringify({ id: 'batch_req_4', custom_id: 'pr-4', response: null, error: { code: 'request_timeout', message: 'The request timed out.' } });
    const { client, requests } = await clientFor((req, res) => {
      if (req.path === '/v1/batches/batch_done') {
        return sendJson(res, 200, batchObject('batch_done', { status: 'expired', output_file_id: 'file-out', error_file_id: 'file-err', request_counts: { total: 4, completed: 2, failed: 2 } }));
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(req.path === '/v1/files/file-err/content' ? `${expired}\n${timedOut}\n` : `${successLine('pr-1', { model: 'gpt-4.1-mini-2025-04-14' })}\n${successLine('pr-2')}\n`);
    });
    const batch = await client.retrieveBatch('batch_done');
    const reconciled = reconcileBatch(['pr-1', 'pr-2', 'pr-3', 'pr-4'], batch, await client.readBatchOutcomes(batch));
    expect(reconciled.succeeded.map((s) => s.customId).sort()).toEqual(['pr-1', 'pr-2']);
    expect(Object.fromEntries(reconciled.failed.map((f) => [f.customId, f.code]))).toEqual({ 'pr-3': 'batch_expired', 'pr-4': 'request_timeout' });
    expect(routes(requests)).toEqual(['GET /v1/batches/batch_done', 'GET /v1/files/file-out/content', 'GET /v1/files/file-err/content']);
  });

  it('never puts the key in an error: an auth error echoing it, a refused connection, a timeout', async () => {
    const { client } = await clientFor((req, res) =>
      sendJson(res, 401, { error: { message: `Incorrect API key provided: ${String(req.headers.authorization).slice(7)}.`, type: 'invalid_request_error', code: 'invalid_api_key' } }),
    );
    const auth = await failure(client.retrieveBatch('batch_auth'));
    expect(auth.message).toMatch(/^retrieve batch \(batch batch_auth\) failed with HTTP 401 invalid_api_key: Incorrect API key provided: \[REDACTED\]/);
    expect(auth.retryable).toBe(false);

    await stub!.stop();
    const refused = new OpenAiBatchClient({ ...DEFAULT_OPENAI_BATCH_CONFIG, apiKey: FAKE_KEY, baseURL: `${stub!.url}/v1`, maxRetries: 1 }, { sleep: noWait });
    const connection = await failure(refused.retrieveBatch('batch_refused'));
    expect(connection.message).toMatch(/^retrieve batch \(batch batch_refused\) failed connection_error after 2 attempts: connection error/);

    stub = await startStubServer(() => undefined);
    const silent = new OpenAiBatchClient({ ...DEFAULT_OPENAI_BATCH_CONFIG, apiKey: FAKE_KEY, baseURL: `${stub.url}/v1`, maxRetries: 0, timeoutMs: 200 });
    const timeout = await failure(silent.retrieveBatch('batch_slow'));
    expect(timeout.message).toBe('retrieve batch (batch batch_slow) failed timeout: the request timed out (no answer within 200 ms)');

    for (const error of [auth, connection, timeout]) expectNoKey(error);
  });

  it('refuses a missing key, a base URL without its version path, a window other than 24h and a bad page size', () => {
    const config = { ...DEFAULT_OPENAI_BATCH_CONFIG, apiKey: FAKE_KEY };
    expect(() => new OpenAiBatchClient({ ...config, apiKey: '' })).toThrow('OPENAI_API_KEY: is not set');
    expect(() => new OpenAiBatchClient({ ...config, baseURL: 'https://api.openai.com' })).toThrow(/OPENAI_BASE_URL: .* has no path; give the API root with its version/);
    expect(() => new OpenAiBatchClient({ ...config, completionWindow: '7d' })).toThrow(/OPENAI_COMPLETION_WINDOW: "7d" is not a completion window OpenAI accepts/);
    expect(() => new OpenAiBatchClient({ ...config, listPageSize: 101 })).toThrow(/listPageSize: 101 is not a page size from 1 to 100/);
    expect(new OpenAiBatchClient(config).limits).toEqual({ maxLines: 50_000, maxBytes: 200_000_000 });
  });
});
