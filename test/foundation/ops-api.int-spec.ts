import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { requestHistory } from '#ledger';
import { type GroqSimulator, startGroqSimulator } from '../../tools/groq-simulator/src/simulator.js';
import { brokers, createTestDatabase, eventually, freePort, GiveUp, type TestDatabase, uniqueSuffix } from '../support/infra.js';

const root = resolve(import.meta.dirname, '../..');
const TOKEN = 'ops-token-for-tests-0123456789';

/** The poller's ops routes: reads are open, changes need the bearer token, and the token never reaches a log. */
describe('ops API (poller)', () => {
  let db: TestDatabase;
  let sim: GroqSimulator;
  let child: ChildProcess;
  let output = '';
  let base = '';

  beforeAll(async () => {
    db = await createTestDatabase();
    sim = await startGroqSimulator({ seed: 5, perLineDelayMs: 50 });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const prefix = `ops${uniqueSuffix()}.`;
    child = spawn(process.execPath, [resolve(root, 'dist/apps/poller/src/main.js')], {
      cwd: root,
      env: {
        ...process.env,
        KAFKA_BROKERS: brokers().join(','),
        KAFKA_TOPIC_PREFIX: prefix,
        DATABASE_URL: db.url,
        HTTP_PORT: String(port),
        GROQ_API_KEY: 'fake-ops-api-test-key',
        GROQ_BASE_URL: sim.url,
        OPS_TOKEN: TOKEN,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await eventually('poller ready', async () => {
      if (child.exitCode !== null) throw new GiveUp(`exited: ${output.slice(-2_000)}`);
      return (await fetch(`${base}/health/ready`)).ok;
    }, 90_000);
    // A finished batch with one stranded request, and a provider batch still running at the simulator.
    await db.dataSource.query(
      `INSERT INTO batches (batch_id, batch_key, pass, model, prompt_version, max_tokens, state, request_count, provider_batch_id)
       VALUES ('b-finished', 'k-1', 1, 'openai/gpt-oss-20b', 'pr-analysis-v1', 1024, 'finished', 1, 'batch_gone')`,
    );
    await db.dataSource.query(
      `INSERT INTO requests (request_id, prompt_version, correlation_id, team, repo, pr_number, content_hash, status, stage, attempt, pass, model, max_tokens, current_batch_id, pr_bytes)
       VALUES ('acme/api#1', 'pr-analysis-v1', 'c', 'payments', 'acme/api', 1, $1, 'in_flight', 'submitted', 1, 1, 'openai/gpt-oss-20b', 1024, 'b-finished', 36)`,
      ['a'.repeat(64)],
    );
    await db.dataSource.query(
      `INSERT INTO request_inputs (request_id, prompt_version, pr) VALUES ('acme/api#1', 'pr-analysis-v1', '{"body": "confidential PR body text"}')`,
    );
    await db.dataSource.query(
      `INSERT INTO batch_items (batch_id, request_id, prompt_version, attempt, metadata) VALUES ('b-finished', 'acme/api#1', 'pr-analysis-v1', 1, '{}')`,
    );
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((done) => child.once('exit', done));
    }
    await sim?.stop();
    await db?.drop();
  });

  const post = (path: string, token?: string) =>
    fetch(`${base}${path}`, { method: 'POST', headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

  it('lists batches and shows one with its items; an unknown id is 404', async () => {
    const list = (await (await fetch(`${base}/batches?state=finished`)).json()) as Array<{ batch_id: string }>;
    expect(list.map((b) => b.batch_id)).toEqual(['b-finished']);
    const one = (await (await fetch(`${base}/batches/b-finished`)).json()) as { items: Array<{ requestId: string }> };
    expect(one.items.map((i) => i.requestId)).toEqual(['acme/api#1']);
    expect((await fetch(`${base}/batches/nope`)).status).toBe(404);
  });

  const MUTATING = ['/batches/b-finished/retry', '/batches/b-finished/cancel', '/cache/clear', '/submission/pause', '/submission/resume'];

  it.each(MUTATING)('%s refuses a missing token (401) and a wrong one (403)', async (path) => {
    expect((await post(path)).status).toBe(401);
    expect((await post(path, 'wrong-token-0000000000')).status).toBe(403);
  });

  it("answers 409 with the provider's reason when the provider refuses a cancel", async () => {
    const response = await post('/batches/b-finished/cancel', TOKEN);
    expect(response.status).toBe(409);
    expect(((await response.json()) as { message: string }).message).toMatch(/the provider refused to cancel batch b-finished/);
  });

  it('retries a batch with the right token: only its requests without an outcome are sent again', async () => {
    // One more request of the finished batch, whose outcome exists and waits for the result-writer.
    await db.dataSource.query(
      `INSERT INTO requests (request_id, prompt_version, correlation_id, team, repo, pr_number, content_hash, status, stage, attempt, pass, model, max_tokens, current_batch_id, pr_bytes)
       VALUES ('acme/api#2', 'pr-analysis-v1', 'c', 'payments', 'acme/api', 2, $1, 'in_flight', 'awaiting_merge', 1, 1, 'openai/gpt-oss-20b', 1024, 'b-finished', 2)`,
      ['b'.repeat(64)],
    );
    const response = await post('/batches/b-finished/retry', TOKEN);
    expect(response.status).toBe(202);
    expect(((await response.json()) as { message: string }).message).toMatch(/1 stranded requests queued again/);
    const [row] = await db.dataSource.query(`SELECT status, attempt FROM requests WHERE request_id = 'acme/api#1'`);
    expect(row).toEqual({ status: 'pending', attempt: 2 });
    const [waiting] = await db.dataSource.query(`SELECT status, stage, attempt FROM requests WHERE request_id = 'acme/api#2'`);
    expect(waiting).toEqual({ status: 'in_flight', stage: 'awaiting_merge', attempt: 1 });
    await db.dataSource.query(`DELETE FROM requests WHERE request_id = 'acme/api#2'`);
  });

  it("shows one request's history across passes without the PR text; unknown ids are 404", async () => {
    const response = await fetch(`${base}/requests/${encodeURIComponent('acme/api#1')}`);
    expect(response.status).toBe(200);
    const text = await response.text();
    const history = JSON.parse(text) as { requests: Array<{ status: string; attempt: number }>; batches: Array<{ batchId: string }> };
    expect(history.requests).toEqual([expect.objectContaining({ status: 'pending', attempt: 2 })]);
    expect(history.batches.map((b) => b.batchId)).toEqual(['b-finished']);
    expect(text).not.toContain('confidential PR body text');
    expect((await fetch(`${base}/requests/nope`)).status).toBe(404);
    // Configured to show it (OPS_SHOW_PR_TEXT=true), the same history carries the stored text.
    const shown = await requestHistory(db.dataSource.manager, 'acme/api#1', { includePrText: true });
    expect(JSON.stringify(shown)).toContain('confidential PR body text');
  });

  it('pauses and resumes submission with the token, and says so in the submission status', async () => {
    expect(((await (await fetch(`${base}/submission`)).json()) as { state: string }).state).toBe('running');
    const paused = await fetch(`${base}/submission/pause`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'provider incident' }),
    });
    expect(paused.status).toBe(202);
    const status = (await (await fetch(`${base}/submission`)).json()) as { state: string; message: string };
    expect(status.state).toBe('paused');
    expect(status.message).toContain('provider incident');
    expect((await post('/submission/resume', TOKEN)).status).toBe(202);
    expect(((await (await fetch(`${base}/submission`)).json()) as { state: string }).state).toBe('running');
  });

  it('shows cache statistics and clears the cache with the token', async () => {
    const before = (await (await fetch(`${base}/cache`)).json()) as { ttlHours: number; clearedAt: string | null; hits: number; entries: number };
    expect(before).toMatchObject({ ttlHours: 720, clearedAt: null, hits: 0, entries: 0 });
    const cleared = await post('/cache/clear', TOKEN);
    expect(cleared.status).toBe(202);
    const after = (await (await fetch(`${base}/cache`)).json()) as { clearedAt: string | null };
    expect(after.clearedAt).toBe(((await cleared.json()) as { clearedAt: string }).clearedAt);
  });

  it('shows quotas per model of the chain and the reconcile summary', async () => {
    const quota = (await (await fetch(`${base}/quota`)).json()) as { store: string; models: Array<{ model: string; usage: { day: { requests: number } } }> };
    expect(quota.store).toBe('memory');
    expect(quota.models.map((m) => m.model)).toEqual(expect.arrayContaining(['openai/gpt-oss-20b', 'llama-3.3-70b-versatile']));
    const summary = (await (await fetch(`${base}/reconcile`)).json()) as { ingested: number; inFlight: number };
    expect(summary).toMatchObject({ ingested: 1, inFlight: 1 });
  });

  it('documents every route in OpenAPI, with bearer auth on exactly the mutating ones', async () => {
    const document = (await (await fetch(`${base}/docs/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    const secured = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.entries(operations).filter(([, op]) => op.security?.length).map(([method]) => `${method} ${path}`),
    );
    expect(secured.sort()).toEqual(
      ['post /batches/{id}/cancel', 'post /batches/{id}/retry', 'post /cache/clear', 'post /submission/pause', 'post /submission/resume'].sort(),
    );
    for (const path of ['/batches', '/batches/{id}', '/requests/{id}', '/quota', '/cache', '/submission', '/reconcile']) {
      expect(document.paths[path]?.get).toBeDefined();
    }
  });

  it('never writes the token or the provider key to its logs, and logs each change', () => {
    expect(output).toContain('"action":"retry"');
    expect(output).toContain('"action":"submission.pause"');
    expect(output).toContain('"action":"cache.clear"');
    expect(output).not.toContain(TOKEN);
    expect(output).not.toContain('fake-ops-api-test-key');
  });
});
