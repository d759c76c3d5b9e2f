import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { brokers, createTestDatabase, eventually, freePort, GiveUp, type TestDatabase, uniqueSuffix } from '../support/infra.js';

/** Each service, started from the build as operators start it, becomes ready and stops cleanly on SIGTERM. */
const SERVICES = ['batch-submitter', 'poller', 'retry-service', 'result-writer'];
const root = resolve(import.meta.dirname, '../..');

describe.each(SERVICES)('%s process', (service) => {
  let db: TestDatabase;
  let child: ChildProcess;
  let output = '';
  let port = 0;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await db?.drop();
  });

  it('reports ready on /health/ready, serves /metrics, and exits 0 on SIGTERM', async () => {
    const prefix = `t${uniqueSuffix()}.`;
    port = await freePort();
    child = spawn(process.execPath, [resolve(root, `dist/apps/${service}/src/main.js`)], {
      cwd: root,
      env: {
        ...process.env,
        KAFKA_BROKERS: brokers().join(','),
        KAFKA_TOPIC_PREFIX: prefix,
        KAFKA_GROUP_ID: `${service}-${prefix}`,
        DATABASE_URL: db.url,
        HTTP_PORT: String(port),
        GROQ_API_KEY: 'gsk_FAKE-lifecycle-key',
        GROQ_BASE_URL: 'http://127.0.0.1:9',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)));

    await eventually(`${service} ready`, async () => {
      if (child.exitCode !== null) throw new GiveUp(`exited early with ${child.exitCode}: ${output.slice(-2_000)}`);
      const response = await fetch(`http://127.0.0.1:${port}/health/ready`);
      return response.status === 200;
    }, 90_000);
    const live = await fetch(`http://127.0.0.1:${port}/health/live`);
    expect(live.status).toBe(200);
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
    expect(metrics).toContain(`service="${service}"`);

    child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise((_, reject) => setTimeout(() => reject(new Error('no exit within 30 s of SIGTERM')), 30_000))]);
    expect(code).toBe(0);
    expect(output).toContain('shut down cleanly');
    // Logs are JSON lines, and the key never appears in them.
    const lines = output.split('\n').filter((line) => line.startsWith('{'));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    expect(output).not.toContain('gsk_FAKE-lifecycle-key');
  });
});

describe('configuration errors', () => {
  it('stop the service with a message naming the variable', async () => {
    const child = spawn(process.execPath, [resolve(root, 'dist/apps/result-writer/src/main.js')], {
      cwd: root,
      env: { ...process.env, HTTP_PORT: 'not-a-port' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise((resolveExit) => child.on('exit', resolveExit));
    expect(code).toBe(1);
    expect(stderr).toMatch(/Invalid configuration: HTTP_PORT/);
  });
});
