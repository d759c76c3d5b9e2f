import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { ensureLocalPostgres, openDatabase, packagedBinaries } from '#platform';

/** The mode of every folder from `path` up to `/`: what starting the server must leave as it was. */
function modesUpFrom(path: string): Map<string, number> {
  const modes = new Map<string, number>();
  for (let dir = path; ; dir = dirname(dir)) {
    modes.set(dir, statSync(dir).mode);
    if (dirname(dir) === dir) return modes;
  }
}

async function connects(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

describe('embedded PostgreSQL default', () => {
  it('starts real PostgreSQL binaries when nothing answers: loopback only, a random password kept 0600, no host folder touched', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'cascade-pg-'));
    const dataDir = join(parent, 'data');
    const binaries = packagedBinaries().native;
    const before = new Map([...modesUpFrom(parent), ...modesUpFrom(binaries)]);
    const port = 55_000 + Math.floor(Math.random() * 1_000);
    const local = await ensureLocalPostgres({ dataDir, port });
    try {
      expect(local.origin).toBe('embedded');
      const url = new URL(local.url);
      expect(url.hostname).toBe('127.0.0.1');
      expect(url.pathname).toBe('/cascade');

      const passwordFile = `${dataDir}.password`;
      expect(statSync(passwordFile).mode & 0o777).toBe(0o600);
      const password = readFileSync(passwordFile, 'utf8').trim();
      expect(password).toHaveLength(32);
      expect(decodeURIComponent(url.password)).toBe(password);
      const wellKnown = new URL(local.url);
      wellKnown.password = 'postgres';
      expect(await connects(wellKnown.toString())).toBe(false);

      for (const [dir, mode] of before) expect({ dir, mode: statSync(dir).mode }).toEqual({ dir, mode });

      const dataSource = await openDatabase(local.url, 2);
      const tables: Array<{ table_name: string }> = await dataSource.query(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
      );
      expect(tables.map((t) => t.table_name)).toEqual(
        expect.arrayContaining(['processed_events', 'outbox', 'requests', 'batches', 'batch_items', 'attempts', 'results']),
      );
      const [{ listen_addresses: listen }] = await dataSource.query('SHOW listen_addresses');
      expect(listen).toBe('127.0.0.1');
      await dataSource.destroy();

      // A second call while it runs finds it answering with the stored password and starts nothing.
      const again = await ensureLocalPostgres({ dataDir, port });
      expect(again).toMatchObject({ origin: 'local', url: local.url });

      // Stopped and started again on its data, it keeps its password.
      await local.stop();
      const restarted = await ensureLocalPostgres({ dataDir, port });
      expect(restarted).toMatchObject({ origin: 'embedded', url: local.url, dataDir: local.dataDir });
      expect(await connects(restarted.url)).toBe(true);
      await restarted.stop();
    } finally {
      await local.stop();
      if (local.dataDir) rmSync(local.dataDir, { recursive: true, force: true });
      rmSync(parent, { recursive: true, force: true });
    }
  }, 180_000);
});
