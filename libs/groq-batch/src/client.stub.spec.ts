import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BATCH_KEY_METADATA, GroqBatchClient, type GroqBatchClientOptions, PASS_METADATA, PROMPT_VERSION_METADATA } from './client.js';
import { DEFAULT_GROQ_BATCH_CONFIG, type GroqBatchConfig } from './config.js';
import { GroqBatchError } from './errors.js';
import { reconcileBatch } from './reconcile.js';
import { REAL_ERROR_LINE, successLine } from './testing/groq-lines.js';
import { batchObject, sendJson, startStubServer, type StubHandler, type StubServer } from './testing/stub-server.js';

/** Recognisable, so that its absence from every error can be asserted. */
const FAKE_KEY = 'gsk_FAKE-do-not-leak-0123456789';

const noWait = async () => undefined;

describe('GroqBatchClient against a stub provider', () => {
  let stub: StubServer | null = null;
  let dir: string;

  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'groq-client-spec-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => {
    await stub?.stop();
    stub = null;
  });

  async function clientFor(handler: StubHandler, config: Partial<GroqBatchConfig> = {}, options: GroqBatchClientOptions = { sleep: noWait }) {
    stub = await startStubServer(handler);
    const client = new GroqBatchClient({ ...DEFAULT_GROQ_BATCH_CONFIG, apiKey: FAKE_KEY, baseURL: stub.url, maxRetries: 3, timeoutMs: 5_000, ...config }, options);
    return { client, requests: stub.requests };
  }

  async function failure(promise: Promise<unknown>): Promise<GroqBatchError> {
    const error = await promise.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(GroqBatchError);
    return error as GroqBatchError;
  }

  function expectNoKey(error: Error) {
    const everything = `${error.message}\n${error.stack}\n${JSON.stringify(error)}\n${String(error)}`;
    expect(everything).not.toContain(FAKE_KEY);
    expect(everything).not.toContain('do-not-leak');
  }

  describe('upload', () => {
    it('streams a multipart body to POST /openai/v1/files with bearer auth and purpose batch', async () => {
      const path = join(dir, 'input.jsonl');
      const content = Array.from({ length: 2_000 }, (_, i) => `{"custom_id":"r-${i}","method":"POST","url":"/v1/chat/completions","body":{"model":"m"}}\n`).join('');
      writeFileSync(path, content);
      const { client, requests } = await clientFor((_req, res) => sendJson(res, 200, { id: 'file_01abc', object: 'file', bytes: content.length, filename: 'input.jsonl', purpose: 'batch', created_at: 1 }));
      expect(await client.uploadInputFile(path)).toEqual({ id: 'file_01abc', bytes: content.length, filename: 'input.jsonl', purpose: 'batch', created_at: 1 });
      const [request] = requests;
      expect(request).toMatchObject({ method: 'POST', path: '/openai/v1/files' });
      expect(request!.headers.authorization).toBe(`Bearer ${FAKE_KEY}`);
      expect(Number(request!.headers['content-length'])).toBe(request!.body.length);
      const boundary = /boundary=(.+)$/.exec(String(request!.headers['content-type']))![1]!;
      const parts = request!.body.toString('utf8').split(`--${boundary}`);
      expect(parts[1]).toBe('\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n');
      expect(parts[2]).toBe(`\r\nContent-Disposition: form-data; name="file"; filename="input.jsonl"\r\nContent-Type: application/jsonl\r\n\r\n${content}\r\n`);
      expect(parts[3]).toBe('--\r\n');
    });

    it('retries an upload refused with 503, sending the whole file again', async () => {
      const path = join(dir, 'retry.jsonl');
      writeFileSync(path, '{"custom_id":"a"}\n');
      let calls = 0;
      const { client, requests } = await clientFor((_req, res) =>
        ++calls === 1 ? sendJson(res, 503, { error: { message: 'busy', type: 'service_unavailable' } }) : sendJson(res, 200, { id: 'file_2' }),
      );
      expect(await client.uploadFile(path)).toBe('file_2');
      expect(requests.map((r) => r.body.includes('{"custom_id":"a"}'))).toEqual([true, true]);
    });

    it('refuses a file above the byte limit before sending anything', async () => {
      const path = join(dir, 'big.jsonl');
      writeFileSync(path, 'x'.repeat(2_048));
      const { client, requests } = await clientFor((_req, res) => sendJson(res, 200, { id: 'file_x' }), { maxBytesPerFile: 1_024 });
      const error = await failure(client.uploadFile(path));
      expect(error.message).toMatch(/upload file \(input big.jsonl\) failed: 2048 bytes is above the 1024-byte limit/);
      expect(error.retryable).toBe(false);
      expect(requests).toHaveLength(0);
    });
  });

  describe('create with a batch key', () => {
    /** A provider that keeps the batches it created, lists them, and misbehaves on create as told. */
    function provider(onCreate: (n: number) => 'ok' | 'drop' | 'garbled' | 503 | 429 | 400) {
      const batches: Array<Record<string, unknown>> = [];
      let creates = 0;
      const handler: StubHandler = (req, res) => {
        if (req.method === 'POST' && req.path === '/openai/v1/batches') {
          const behaviour = onCreate(++creates);
          const body = JSON.parse(req.body.toString()) as Record<string, unknown>;
          if (behaviour === 429) return sendJson(res, 429, { error: { message: 'Rate limit reached', type: 'rate_limit_exceeded' } }, { 'retry-after': '1' });
          if (behaviour === 400) return sendJson(res, 400, { error: { message: 'input_file_id not found', type: 'invalid_request_error', code: 'file_not_found' } });
          const batch = batchObject(`batch_${batches.length + 1}`, { input_file_id: body.input_file_id, completion_window: body.completion_window, metadata: body.metadata });
          batches.unshift(batch);
          if (behaviour === 'drop') {
            // The batch exists, but the client never hears about it.
            res.socket?.destroy();
            return;
          }
          if (behaviour === 503) return sendJson(res, 503, { error: { message: 'upstream timeout', type: 'server_error' } });
          // Created, then answered with something that is not a batch object.
          if (behaviour === 'garbled') return sendJson(res, 200, { id: 42, status: 'weird' });
          return sendJson(res, 200, batch);
        }
        if (req.method === 'GET' && req.path === '/openai/v1/batches') return sendJson(res, 200, { object: 'list', data: batches });
        sendJson(res, 404, { error: { message: 'not found', type: 'invalid_request_error' } });
      };
      return { handler, batches, creates: () => creates };
    }
    const routes = (requests: StubServer['requests']) => requests.map((r) => `${r.method} ${r.path}`);

    it('sends the completion window and metadata carrying key, pass and prompt version', async () => {
      const p = provider(() => 'ok');
      const { client, requests } = await clientFor(p.handler);
      const batch = await client.createBatch({ inputFileId: 'file_in', batchKey: 'k-1', pass: 2, promptVersion: 'pr-analysis-v1', metadata: { team: 'core' } });
      expect(JSON.parse(requests[0]!.body.toString())).toEqual({
        input_file_id: 'file_in',
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
        metadata: { team: 'core', [BATCH_KEY_METADATA]: 'k-1', [PASS_METADATA]: '2', [PROMPT_VERSION_METADATA]: 'pr-analysis-v1' },
      });
      expect(batch).toMatchObject({ id: 'batch_1', status: 'validating', output_file_id: null, metadata: { [BATCH_KEY_METADATA]: 'k-1' } });
    });

    it('adopts the batch when the create response is lost, instead of creating a second one', async () => {
      const p = provider((n) => (n === 1 ? 'drop' : 'ok'));
      const adopted: string[] = [];
      const { client, requests } = await clientFor(p.handler, {}, { sleep: noWait, onAdopt: (b, key) => adopted.push(`${b.id}:${key}`) });
      const batch = await client.createBatch({ inputFileId: 'file_in', batchKey: 'k-lost', pass: 1 });
      expect(batch.id).toBe('batch_1');
      expect(p.creates()).toBe(1);
      expect(p.batches).toHaveLength(1);
      expect(routes(requests)).toEqual(['POST /openai/v1/batches', 'GET /openai/v1/batches']);
      expect(adopted).toEqual(['batch_1:k-lost']);
      expect((await client.findBatchByKey('k-lost'))?.id).toBe('batch_1');
    });

    it('adopts after a 5xx that did create the batch', async () => {
      const p = provider((n) => (n === 1 ? 503 : 'ok'));
      const { client } = await clientFor(p.handler);
      expect((await client.createBatch({ inputFileId: 'file_in', batchKey: 'k-503' })).id).toBe('batch_1');
      expect(p.creates()).toBe(1);
    });

    it('creates again only after looking: a lost create that created nothing is repeated once', async () => {
      const p = provider(() => 'ok');
      let creates = 0;
      const dropping: StubHandler = (req, res) => {
        if (req.method === 'POST' && ++creates === 1) return void res.socket?.destroy();
        return p.handler(req, res);
      };
      const { client, requests } = await clientFor(dropping, { listSettleMs: 0 });
      expect((await client.createBatch({ inputFileId: 'file_in', batchKey: 'k-none' })).id).toBe('batch_1');
      expect(routes(requests)).toEqual(['POST /openai/v1/batches', 'GET /openai/v1/batches', 'POST /openai/v1/batches']);
      expect(p.batches).toHaveLength(1);
    });

    it('a provider that lists a new batch late: the key is looked up for listSettleMs before anything is created again', async () => {
      const p = provider((n) => (n === 1 ? 'drop' : 'ok'));
      let lists = 0;
      // The batch shows in the listing from the third look on.
      const late: StubHandler = (req, res) =>
        req.method === 'GET' && ++lists < 3 ? sendJson(res, 200, { object: 'list', data: [] }) : p.handler(req, res);
      const waits: number[] = [];
      const { client, requests } = await clientFor(late, { listSettleMs: 5_000 }, { sleep: async (ms) => void waits.push(ms), random: () => 1 });
      expect((await client.createBatch({ inputFileId: 'file_in', batchKey: 'k-late' })).id).toBe('batch_1');
      expect(p.creates()).toBe(1);
      expect(routes(requests)).toEqual(['POST /openai/v1/batches', 'GET /openai/v1/batches', 'GET /openai/v1/batches', 'GET /openai/v1/batches']);
      expect(waits).toEqual([500, 1_000]);
    });

    it('a create that never shows within listSettleMs is created again, after the whole settle time; one that fails for good says it may exist', async () => {
      const waits: number[] = [];
      const p = provider(() => 503);
      const { client } = await clientFor(
        (req, res) => (req.method === 'GET' ? sendJson(res, 200, { object: 'list', data: [] }) : p.handler(req, res)),
        { listSettleMs: 1_200, maxRetries: 1 },
        { sleep: async (ms) => void waits.push(ms), random: () => 1 },
      );
      const error = await failure(client.createBatch({ inputFileId: 'file_in', batchKey: 'k-never' }));
      expect(error).toMatchObject({ status: 503, attempts: 2 });
      // Each doubt: looks at 0, 500 and 1,200 ms (the wait is cut to the settle time), then creates again.
      expect(waits).toEqual([500, 700, 500, 700]);
      expect(p.creates()).toBe(2);
    });

    it('asks mayCreate before creating again after a doubt: a caller that may no longer create stops without a second batch', async () => {
      const p = provider(() => 503);
      let asked = 0;
      const { client, requests } = await clientFor((req, res) => (req.method === 'GET' ? sendJson(res, 200, { object: 'list', data: [] }) : p.handler(req, res)), { listSettleMs: 0 });
      const error = await failure(client.createBatch({ inputFileId: 'file_in', batchKey: 'k-fenced', mayCreate: async () => (asked++, false) }));
      expect(error.message).toMatch(/not created again: the caller may no longer create this batch/);
      expect({ asked, creates: p.creates(), retryable: error.retryable }).toEqual({ asked: 1, creates: 1, retryable: false });
      expect(routes(requests)).toEqual(['POST /openai/v1/batches', 'GET /openai/v1/batches']);
    });

    it('an answer that is not a readable batch counts as a lost answer: the batch is found by its key, not created again', async () => {
      const p = provider((n) => (n === 1 ? 'garbled' : 'ok'));
      const { client } = await clientFor(p.handler, { listSettleMs: 0 });
      expect((await client.createBatch({ inputFileId: 'file_in', batchKey: 'k-garbled' })).id).toBe('batch_1');
      expect(p.batches).toHaveLength(1);
    });

    it('waits out a 429 on create without a lookup (nothing was created)', async () => {
      const p = provider((n) => (n === 1 ? 429 : 'ok'));
      const waits: number[] = [];
      const { client, requests } = await clientFor(p.handler, {}, { sleep: async (ms) => void waits.push(ms) });
      expect((await client.createBatch({ inputFileId: 'file_in', batchKey: 'k-429' })).id).toBe('batch_1');
      expect(routes(requests)).toEqual(['POST /openai/v1/batches', 'POST /openai/v1/batches']);
      expect(waits).toEqual([1_000]);
    });

    it('does not retry or look up a create the provider refused, and names the key and code', async () => {
      const p = provider(() => 400);
      const { client, requests } = await clientFor(p.handler);
      const error = await failure(client.createBatch({ inputFileId: 'file_missing', batchKey: 'k-400' }));
      expect(error.message).toBe('create batch (file file_missing, batch key k-400) failed with HTTP 400 file_not_found: input_file_id not found');
      expect(routes(requests)).toEqual(['POST /openai/v1/batches']);
    });

    it('refuses metadata that contradicts the key or breaks the provider limits', async () => {
      const { client, requests } = await clientFor(provider(() => 'ok').handler);
      await expect(client.createBatch({ inputFileId: 'f', batchKey: 'k', metadata: { [BATCH_KEY_METADATA]: 'other' } })).rejects.toThrow(/contradicts the batch key/);
      await expect(client.createBatch({ inputFileId: 'f', batchKey: 'k', metadata: { note: 'x'.repeat(513) } })).rejects.toThrow(/metadata note is longer than 512/);
      expect(requests).toHaveLength(0);
    });

    it('finds a batch by key through the pages of batches.list', async () => {
      const { client, requests } = await clientFor((req, res) => {
        if (req.query.get('cursor') === 'page-2') {
          return sendJson(res, 200, { object: 'list', data: [batchObject('batch_old', { metadata: { [BATCH_KEY_METADATA]: 'k-page' } })], paging: { next_cursor: null } });
        }
        return sendJson(res, 200, { object: 'list', data: [batchObject('batch_other', { metadata: { [BATCH_KEY_METADATA]: 'another' } })], paging: { next_cursor: 'page-2' } });
      });
      expect((await client.findBatchByKey('k-page'))?.id).toBe('batch_old');
      expect(requests.map((r) => r.query.get('cursor'))).toEqual([null, 'page-2']);
      expect(await client.findBatchByKey('k-absent')).toBeNull();
    });
  });

  describe('retries', () => {
    it('honours retry-after (seconds) from a real server, then succeeds', async () => {
      let calls = 0;
      const { client, requests } = await clientFor(
        (_req, res) =>
          ++calls === 1
            ? sendJson(res, 429, { error: { message: 'Rate limit reached', type: 'rate_limit_exceeded' } }, { 'retry-after': '1' })
            : sendJson(res, 200, batchObject('batch_r', { status: 'in_progress' })),
        {},
        {},
      );
      const started = Date.now();
      expect((await client.retrieveBatch('batch_r')).status).toBe('in_progress');
      expect(Date.now() - started).toBeGreaterThanOrEqual(950);
      expect(requests.map((r) => r.path)).toEqual(['/openai/v1/batches/batch_r', '/openai/v1/batches/batch_r']);
    });

    it('prefers retry-after-ms, backs off on 5xx without it, and reports each retry', async () => {
      let calls = 0;
      const waits: number[] = [];
      const events: string[] = [];
      const { client } = await clientFor(
        (_req, res) => {
          calls++;
          if (calls === 1) return sendJson(res, 429, { error: { message: 'slow down' } }, { 'retry-after-ms': '250', 'retry-after': '30' });
          if (calls === 2) return sendJson(res, 502, { error: { message: 'bad gateway' } });
          return sendJson(res, 200, batchObject('batch_m', { status: 'completed' }));
        },
        { retryBaseDelayMs: 100 },
        { sleep: async (ms) => void waits.push(ms), random: () => 0.5, onRetry: (e) => events.push(`${e.operation} ${e.batchId} #${e.attempt}: ${e.reason}`) },
      );
      await client.retrieveBatch('batch_m');
      expect(waits).toEqual([250, 150]);
      expect(events).toEqual(['retrieve batch batch_m #1: HTTP 429 (retry-after 250 ms)', 'retrieve batch batch_m #2: HTTP 502']);
    });

    it('stops after maxRetries and says how many attempts it made', async () => {
      const { client, requests } = await clientFor((_req, res) => sendJson(res, 503, { error: { message: 'Service Unavailable', type: 'service_unavailable' } }), { maxRetries: 2 });
      const error = await failure(client.cancelBatch('batch_c'));
      expect(error.message).toBe('cancel batch (batch batch_c) failed with HTTP 503 after 3 attempts: Service Unavailable');
      expect(error).toMatchObject({ status: 503, attempts: 3, retryable: true, subject: { batchId: 'batch_c' } });
      expect(requests).toHaveLength(3);
    });
  });

  describe('errors never carry the API key', () => {
    it('on an auth error whose body echoes the key', async () => {
      const { client } = await clientFor((req, res) =>
        sendJson(res, 401, { error: { message: `Invalid API Key: ${String(req.headers.authorization)}`, type: 'invalid_request_error', code: 'invalid_api_key' } }),
      );
      const error = await failure(client.retrieveBatch('batch_auth'));
      expect(error.message).toMatch(/^retrieve batch \(batch batch_auth\) failed with HTTP 401 invalid_api_key: Invalid API Key: Bearer \[REDACTED\]/);
      expect(error.retryable).toBe(false);
      expectNoKey(error);
    });

    it('on a server error, an upload error, a refused connection and a timeout', async () => {
      const path = join(dir, 'k.jsonl');
      writeFileSync(path, '{}\n');
      const { client } = await clientFor((req, res) =>
        req.path === '/openai/v1/files' ? sendJson(res, 413, { error: { message: `too large for ${FAKE_KEY}` } }) : sendJson(res, 500, { error: { message: 'oops' } }),
      );
      const errors = [await failure(client.retrieveBatch('batch_500')), await failure(client.uploadFile(path))];

      const closed = await new Promise<number>((resolve) => {
        const probe = createServer();
        probe.listen(0, '127.0.0.1', () => {
          const { port } = probe.address() as { port: number };
          probe.close(() => resolve(port));
        });
      });
      const refused = new GroqBatchClient({ ...DEFAULT_GROQ_BATCH_CONFIG, apiKey: FAKE_KEY, baseURL: `http://127.0.0.1:${closed}`, maxRetries: 1 }, { sleep: noWait });
      const connectionError = await failure(refused.retrieveBatch('batch_refused'));
      expect(connectionError.message).toMatch(/^retrieve batch \(batch batch_refused\) failed connection_error after 2 attempts: connection error/);
      errors.push(connectionError);

      await stub!.stop();
      stub = await startStubServer(() => undefined);
      const silent = new GroqBatchClient({ ...DEFAULT_GROQ_BATCH_CONFIG, apiKey: FAKE_KEY, baseURL: stub.url, maxRetries: 0, timeoutMs: 200 });
      const timeout = await failure(silent.retrieveBatch('batch_slow'));
      expect(timeout.message).toBe('retrieve batch (batch batch_slow) failed timeout: the request timed out (no answer within 200 ms)');
      errors.push(timeout);

      for (const error of errors) expectNoKey(error);
      expect(errors.map((e) => e.operation)).toEqual(['retrieve batch', 'upload file', 'retrieve batch', 'retrieve batch']);
    });
  });

  describe('download and outcomes', () => {
    it('streams output and error files line by line and reconciles every sent id', async () => {
      const output = `${successLine('pr-2')}\n${successLine('pr-1')}\n`;
      const { client, requests } = await clientFor(async (req, res) => {
        if (req.path === '/openai/v1/batches/batch_done') {
          return sendJson(res, 200, batchObject('batch_done', { status: 'completed', output_file_id: 'file_out', error_file_id: 'file_err', request_counts: { total: 4, completed: 2, failed: 1 } }));
        }
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        if (req.path === '/openai/v1/files/file_err/content') return void res.end(`${REAL_ERROR_LINE}\n`);
        // Bytes trickle in, cut mid-line, as over a slow link.
        for (let at = 0; at < output.length; at += 700) {
          res.write(output.slice(at, at + 700));
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
        res.end();
      });
      const batch = await client.retrieveBatch('batch_done');
      const collected = await client.readBatchOutcomes(batch);
      const reconciled = reconcileBatch(['pr-1', 'pr-2', 'pr-9953', 'pr-4'], batch, collected);
      expect(reconciled.succeeded.map((s) => s.customId).sort()).toEqual(['pr-1', 'pr-2']);
      expect(Object.fromEntries(reconciled.failed.map((f) => [f.customId, f.code]))).toEqual({ 'pr-9953': 'json_validate_failed', 'pr-4': 'missing' });
      expect(requests.find((r) => r.path.endsWith('/content'))?.headers.accept).toBe('application/octet-stream');
    });

    it('treats an empty error_file_id as no file', async () => {
      const { client } = await clientFor((_req, res) => sendJson(res, 200, batchObject('batch_e', { status: 'completed', output_file_id: 'file_o', error_file_id: '' })));
      expect(await client.retrieveBatch('batch_e')).toMatchObject({ output_file_id: 'file_o', error_file_id: null });
    });

    it('aborts a download that goes silent mid-file, naming the file', async () => {
      const { client } = await clientFor((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.write(`${successLine('pr-1')}\n`);
      }, { timeoutMs: 300 });
      const lines: string[] = [];
      const error = await failure(
        (async () => {
          for await (const line of client.fileLines('file_stall')) lines.push(line);
        })(),
      );
      expect(lines).toHaveLength(1);
      expect(error.message).toMatch(/^download file \(file file_stall\) failed: no data for 300 ms mid-file/);
      expectNoKey(error);
    });

    it('names the file when a download is refused', async () => {
      const { client } = await clientFor((_req, res) => sendJson(res, 404, { error: { message: 'file not found', type: 'invalid_request_error' } }));
      const error = await failure(client.readBatchOutcomes({ id: 'batch_x', output_file_id: 'file_gone', error_file_id: null }));
      expect(error.message).toBe('download file (file file_gone) failed with HTTP 404: file not found');
    });
  });

  it('refuses a base URL that already ends in /openai/v1 and a missing key', () => {
    expect(() => new GroqBatchClient({ ...DEFAULT_GROQ_BATCH_CONFIG, apiKey: FAKE_KEY, baseURL: 'https://api.groq.com/openai/v1' })).toThrow(/host root/);
    expect(() => new GroqBatchClient({ ...DEFAULT_GROQ_BATCH_CONFIG, apiKey: '', baseURL: 'https://api.groq.com' })).toThrow('GROQ_API_KEY: is not set');
  });
});
