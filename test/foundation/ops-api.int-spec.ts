import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
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
      `INSERT INTO requests (request_id, prompt_version, correlation_id, team, repo, pr_number, content_hash, status, stage, attempt, pass, model, max_tokens, current_batch_id, pr)
       VALUES ('acme/api#1', 'pr-analysis-v1', 'c', 'payments', 'acme/api', 1, $1, 'in_flight', 'submitted', 1, 1, 'openai/gpt-oss-20b', 1024, 'b-finished', '{}')`,
      ['a'.repeat(64)],
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

  it.each(['/batches/b-finished/retry', '/batches/b-finished/cancel'])('%s refuses a missing token (401) and a wrong one (403)', async (path) => {
    expect((await post(path)).status).toBe(401);
    expect((await post(path, 'wrong-token-0000000000')).status).toBe(403);
  });

  it('retries a batch with the right token', async () => {
    const response = await post('/batches/b-finished/retry', TOKEN);
    expect(response.status).toBe(202);
    expect(((await response.json()) as { message: string }).message).toMatch(/1 stranded requests queued again/);
    const [row] = await db.dataSource.query(`SELECT status, attempt FROM requests WHERE request_id = 'acme/api#1'`);
    expect(row).toEqual({ status: 'pending', attempt: 2 });
  });

  it('never writes the token to its logs', () => {
    expect(output).toContain('"action":"retry"');
    expect(output).not.toContain(TOKEN);
  });
});
