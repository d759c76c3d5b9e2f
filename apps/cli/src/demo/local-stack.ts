import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ensureLocalPostgres, type LocalPostgres } from '#platform';

const run = promisify(execFile);
/** The project root: the nearest folder up with `nest-cli.json` (works from the build and from the sources). */
export const REPO_ROOT = findRoot(import.meta.dirname);

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'nest-cli.json'))) return dir;
    if (dirname(dir) === dir) return resolve(from, '../../../../..');
  }
}

/** A free TCP port on 127.0.0.1, for a child process's ops server. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

export interface LocalKafka {
  brokers: string;
  started: boolean;
  stop(): Promise<void>;
}

/** The project's broker from Kafka's jars, unless KAFKA_BROKERS names a cluster. */
export async function ensureKafka(log: (line: string) => void): Promise<LocalKafka> {
  if (process.env.KAFKA_BROKERS) return { brokers: process.env.KAFKA_BROKERS, started: false, stop: async () => undefined };
  const script = join(REPO_ROOT, 'scripts/kafka/kafka.sh');
  log('starting the local Kafka broker (first run fetches its jars from Maven Central)…');
  const { stdout } = await run('bash', [script, 'start'], { cwd: REPO_ROOT, maxBuffer: 10 * 1024 * 1024 });
  const port = process.env.KAFKA_PORT ?? '9092';
  const started = stdout.includes('started');
  return {
    brokers: `127.0.0.1:${port}`,
    started,
    stop: async () => {
      if (started) await run('bash', [script, 'stop'], { cwd: REPO_ROOT });
    },
  };
}

export async function ensurePostgres(log: (line: string) => void): Promise<LocalPostgres> {
  const postgres = await ensureLocalPostgres({
    databaseUrl: process.env.DATABASE_URL,
    dataDir: join(REPO_ROOT, '.cascade/postgres'),
    port: Number(process.env.EMBEDDED_POSTGRES_PORT ?? 5432),
    onLog: () => undefined,
  });
  log(
    postgres.origin === 'embedded'
      ? `no PostgreSQL answered: started the embedded one on 127.0.0.1:${new URL(postgres.url).port} (data in ${postgres.dataDir})`
      : `using PostgreSQL at ${new URL(postgres.url).host}`,
  );
  return postgres;
}

export interface ServiceProcess {
  name: string;
  port: number;
  child: ChildProcess;
}

/**
 * V8's old-space limit per service, in MB (NODE_HEAP_MB does the same in containers). The poller handles
 * a whole provider batch at once: without a limit V8 let garbage pile up well past its live heap and a
 * 50,000-line batch peaked above 300 MB RSS; at 160 it stays under 256 MB. The batch-submitter gets none:
 * at 128 MB it ran out of heap forming and submitting one 50,000-line batch.
 */
export const SERVICE_HEAP_MB: Record<string, number> = { poller: 160 };

/** Starts one service from the build, its JSON logs going to `logDir/<name>.log`. */
export function spawnService(name: string, env: NodeJS.ProcessEnv, port: number, logDir: string): ServiceProcess {
  mkdirSync(logDir, { recursive: true });
  const logFile = createWriteStream(join(logDir, `${name}.log`));
  const heapMb = env.NODE_HEAP_MB ?? SERVICE_HEAP_MB[name];
  const flags = heapMb ? [`--max-old-space-size=${heapMb}`] : [];
  const child = spawn(process.execPath, [...flags, join(REPO_ROOT, `dist/apps/${name}/src/main.js`)], {
    cwd: REPO_ROOT,
    env: { ...env, HTTP_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(logFile);
  child.stderr!.pipe(logFile);
  return { name, port, child };
}

export async function waitReady(service: ServiceProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (service.child.exitCode !== null) throw new Error(`${service.name} exited with code ${service.child.exitCode} (see its log)`);
    try {
      const response = await fetch(`http://127.0.0.1:${service.port}/health/ready`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${service.name} not ready after ${timeoutMs} ms (see its log)`);
    await new Promise((done) => setTimeout(done, 300));
  }
}

export async function stopService(service: ServiceProcess): Promise<number | null> {
  if (service.child.exitCode !== null) return service.child.exitCode;
  const exited = new Promise<number | null>((done) => service.child.once('exit', (code) => done(code)));
  service.child.kill('SIGTERM');
  const timer = setTimeout(() => service.child.kill('SIGKILL'), 35_000);
  const code = await exited;
  clearTimeout(timer);
  return code;
}
