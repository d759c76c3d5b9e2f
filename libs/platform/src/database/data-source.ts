import pg from 'pg';
import { DataSource } from 'typeorm';
import { ALL_MIGRATIONS } from './migrations/index.js';

/** One advisory-lock id for schema changes, so replicas starting together migrate one at a time. */
const MIGRATION_LOCK_ID = 7_240_311;

export function createDataSource(url: string, poolSize = 10): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    migrations: ALL_MIGRATIONS,
    migrationsTableName: 'schema_migrations',
    synchronize: false,
    logging: false,
    extra: { max: poolSize, connectionTimeoutMillis: 10_000, application_name: 'cascade' },
  });
}

function databaseNameOf(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!name) throw new Error('DATABASE_URL names no database');
  return name;
}

/** Runs `work` on a connection to the server's `postgres` database (to create or drop another one). */
async function withServerConnection<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Creates the database named in `url` when it does not exist (the embedded default must "just work"). */
export async function ensureDatabaseExists(url: string): Promise<boolean> {
  const name = databaseNameOf(url);
  return withServerConnection(url, async (client) => {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return false;
    try {
      // Identifiers cannot be bound as parameters; quote it the way PostgreSQL does.
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
      return true;
    } catch (error) {
      // Two services creating it at once: the loser sees duplicate_database, which is fine.
      if ((error as { code?: string }).code === '42P04') return false;
      throw error;
    }
  });
}

export async function dropDatabase(url: string): Promise<void> {
  const name = databaseNameOf(url);
  await withServerConnection(url, (client) => client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`));
}

/**
 * Runs pending migrations under a session-level advisory lock; returns the names it applied. The lock
 * is held on a connection of its own, outside the pool: with a pool of one, holding it on a pooled
 * connection would leave none for the migrations themselves.
 */
export async function runMigrations(dataSource: DataSource): Promise<string[]> {
  const options = dataSource.options as { url?: string };
  const lock = new pg.Client({ connectionString: options.url, application_name: 'cascade-migrations' });
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((migration) => migration.name);
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
    await lock.end().catch(() => undefined);
  }
}

/** Create (if needed), connect and migrate: what every service and command does first. */
export async function openDatabase(url: string, poolSize = 10): Promise<DataSource> {
  await ensureDatabaseExists(url);
  const dataSource = createDataSource(url, poolSize);
  await dataSource.initialize();
  try {
    await runMigrations(dataSource);
  } catch (error) {
    await dataSource.destroy();
    throw error;
  }
  return dataSource;
}
