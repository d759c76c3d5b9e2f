import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ensureLocalPostgres, type LocalPostgres } from '#platform';
import { createTestDatabase, eventually, freePort, type TestDatabase, uniqueSuffix } from '../support/infra.js';
import { expectNothingLost, FaultStack, ROOT, sleep } from './harness.js';

const KAFKA_SH = join(ROOT, 'scripts/kafka/kafka.sh');

/** A broker of this scenario's own, so that stopping it touches nothing else. */
function kafka(command: 'start' | 'stop', port: number): string {
  const { KAFKA_BROKERS: _external, ...env } = process.env;
  return execFileSync('bash', [KAFKA_SH, command], {
    env: { ...env, KAFKA_PORT: String(port), KAFKA_CONTROLLER_PORT: String(port + 1) },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A free port whose successor is free too (the broker's controller listens there). */
async function portPair(): Promise<number> {
  for (;;) {
    const port = await freePort();
    const nextFree = await new Promise<boolean>((done) => {
      const server = createServer();
      server.once('error', () => done(false));
      server.listen(port + 1, '127.0.0.1', () => server.close(() => done(true)));
    });
    if (nextFree) return port;
  }
}

/** Submitted work exists in the database: the outage hits a pipeline in the middle of its run. */
async function midRun(stack: FaultStack, db: { query: (sql: string) => Promise<Array<{ n: number }>> }) {
  await eventually('a batch submitted', async () => Number((await db.query(`SELECT count(*)::int AS n FROM batches WHERE state <> 'creating'`))[0]!.n) > 0, 120_000);
  expect(stack.restarts()).toBe(0);
}

/** The outage lasts `ms` (the scenario's length) and until every service has seen it: the fault really hit them. */
async function outage(stack: FaultStack, what: string, ms: number) {
  const started = Date.now();
  await stack.waitAllUnready(what);
  await sleep(Math.max(0, ms - (Date.now() - started)));
}

function expectAllAlive(stack: FaultStack) {
  expect([...stack.processes.values()].map((p) => [p.key, p.child.exitCode, p.restarts])).toEqual(
    [...stack.processes.values()].map((p) => [p.key, null, 0]),
  );
}

describe('fault suite: the broker and the database go away mid-run', () => {
  let stack: FaultStack | null = null;
  afterEach(async () => {
    await stack?.stop();
    stack = null;
  });

  it('Kafka stopped and restarted mid-run: the services wait, reconnect and finish without a restart of their own', async () => {
    const port = await portPair();
    const db: TestDatabase = await createTestDatabase();
    try {
      kafka('start', port);
      stack = await FaultStack.start({ seed: 31, databaseUrl: db.url, brokers: `127.0.0.1:${port}` });
      const prs = stack.prs();
      await stack.publish(prs);
      await midRun(stack, db.dataSource);
      kafka('stop', port);
      await outage(stack, 'Kafka', 8_000);
      kafka('start', port);
      await stack.settle(prs.length, 300_000);
      expectAllAlive(stack);
      expectNothingLost(await stack.verify(prs.length));
    } finally {
      await stack?.stop();
      stack = null;
      try {
        kafka('stop', port);
      } finally {
        rmSync(join(ROOT, `.cascade/kafka/data-${port}`), { recursive: true, force: true });
        await db.drop();
      }
    }
  }, 480_000);

  it('PostgreSQL restarted mid-run: the services wait, reconnect and finish without a restart of their own', async () => {
    const port = await freePort();
    const dataDir = join(ROOT, `.cascade/test-postgres-${uniqueSuffix()}`);
    let postgres: LocalPostgres = await ensureLocalPostgres({ port, dataDir, databaseName: 'cascade_faults' });
    const { openDatabase } = await import('#platform');
    try {
      let probe = await openDatabase(postgres.url, 1);
      stack = await FaultStack.start({ seed: 32, databaseUrl: postgres.url });
      const prs = stack.prs();
      await stack.publish(prs);
      await midRun(stack, probe);
      await probe.destroy();
      await postgres.stop();
      await outage(stack, 'PostgreSQL', 5_000);
      postgres = await ensureLocalPostgres({ port, dataDir, databaseName: 'cascade_faults' });
      probe = await openDatabase(postgres.url, 1);
      await probe.destroy();
      await stack.settle(prs.length, 300_000);
      expectAllAlive(stack);
      expectNothingLost(await stack.verify(prs.length));
    } finally {
      await stack?.stop();
      stack = null;
      await postgres.stop().catch(() => undefined);
      for (const path of [dataDir, `${dataDir}.password`, postgres.dataDir ?? dataDir]) rmSync(path, { recursive: true, force: true });
    }
  }, 480_000);
});
