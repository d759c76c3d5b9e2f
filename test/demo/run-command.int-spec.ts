import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { syntheticPrs } from '../../apps/cli/src/demo/synthetic-prs.js';
import { brokers, createTestDatabase, type TestDatabase, uniqueSuffix } from '../support/infra.js';

const root = resolve(import.meta.dirname, '../..');

/** The operators' workflow: `cascade ingest --file`, then `cascade run --limit N --with-fallback --poll`. */
describe('cascade ingest + run', () => {
  let db: TestDatabase;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'cascade-run-'));
    const prefix = `run${uniqueSuffix()}.`;
    env = {
      ...process.env,
      KAFKA_BROKERS: brokers().join(','),
      KAFKA_TOPIC_PREFIX: prefix,
      DATABASE_URL: db.url,
      LOG_LEVEL: 'warn',
    };
    for (const key of ['GROQ_API_KEY', 'OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'MODEL_CHAIN']) delete env[key];
  });
  afterAll(async () => {
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const cascade = (...args: string[]) => spawnSync(process.execPath, [resolve(root, 'bin/cascade.js'), ...args], { cwd: root, env, encoding: 'utf8', timeout: 280_000 });

  it('without --poll, refuses a chain whose providers would run on simulators, naming each missing key', () => {
    const result = spawnSync(process.execPath, [resolve(root, 'bin/cascade.js'), 'run', '--with-fallback'], {
      cwd: root,
      env: { ...env, MODEL_CHAIN: 'groq:openai/gpt-oss-20b,anthropic:claude-haiku-4-5' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('without GROQ_API_KEY, ANTHROPIC_API_KEY the local simulators live only as long as this command: add --poll');
  });

  it('ingest reports bad lines by number and request id, and publishes the good ones', () => {
    const prs = syntheticPrs({ count: 120, seed: 77, emptyBodyRate: 0 });
    const lines = prs.map((pr) => JSON.stringify(pr));
    lines.splice(10, 0, '{"requestId": "bad#1", "team": "x"}', 'not json at all');
    writeFileSync(join(dir, 'prs.jsonl'), `${lines.join('\n')}\n`);
    const result = cascade('ingest', '--file', join(dir, 'prs.jsonl'));
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/published 120 PR events; 2 bad lines/);
    expect(result.stderr).toMatch(/line 11 \(requestId bad#1\): repo: /);
    expect(result.stderr).toMatch(/line 12: not JSON/);
  });

  it('run --limit 50 --with-fallback --poll analyses exactly 50, and a later run --poll finishes the rest', async () => {
    const first = cascade('run', '--limit', '50', '--with-fallback', '--poll', '--timeout-ms', '200000');
    if (first.status !== 0) process.stderr.write(first.stderr.slice(-3_000));
    expect(first.status).toBe(0);
    const [after] = await db.dataSource.query(
      `SELECT (SELECT sum(request_count) FROM batches WHERE pass = 1)::int AS pass_one,
              (SELECT count(*) FROM requests WHERE status = 'pending')::int AS pending,
              (SELECT count(*) FROM requests WHERE status IN ('succeeded', 'failed'))::int AS done`,
    );
    expect(after).toEqual({ pass_one: 50, pending: 70, done: 50 });
    expect(first.stdout).toMatch(/lost: 0/);
    const [{ batch_id: batchId, provider_batch_id: providerId }] = await db.dataSource.query(
      `SELECT batch_id, provider_batch_id FROM batches WHERE pass = 1 ORDER BY created_at LIMIT 1`,
    );
    for (const id of [batchId, providerId]) {
      const status = cascade('status', id);
      expect(status.status).toBe(0);
      expect(status.stdout).toMatch(new RegExp(`batch ${batchId}  provider ${providerId}`));
      expect(status.stdout).toMatch(/state finished {2}provider status completed {2}pass 1/);
      expect(status.stdout).toMatch(/outcomes (succeeded|failed) \d+/);
    }
    expect(cascade('status', 'no-such-batch').status).toBe(1);

    const second = cascade('run', '--poll', '--with-fallback', '--timeout-ms', '200000');
    expect(second.status).toBe(0);
    const [end] = await db.dataSource.query(`SELECT count(*) FILTER (WHERE status IN ('succeeded', 'failed'))::int AS done, count(*)::int AS total FROM requests`);
    expect(end).toEqual({ done: 120, total: 120 });
  }, 300_000);
});
