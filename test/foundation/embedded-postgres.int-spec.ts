import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureLocalPostgres, openDatabase } from '#platform';

describe('embedded PostgreSQL default', () => {
  it('starts real PostgreSQL binaries when nothing answers, and the migrations run on it', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'cascade-pg-')), 'data');
    const port = 55_000 + Math.floor(Math.random() * 1_000);
    const local = await ensureLocalPostgres({ dataDir, port });
    try {
      expect(local.origin).toBe('embedded');
      expect(local.url).toBe(`postgres://postgres:postgres@127.0.0.1:${port}/cascade`);
      const dataSource = await openDatabase(local.url, 2);
      const tables: Array<{ table_name: string }> = await dataSource.query(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
      );
      expect(tables.map((t) => t.table_name)).toEqual(
        expect.arrayContaining(['processed_events', 'outbox', 'requests', 'batches', 'batch_items', 'attempts', 'results']),
      );
      const [{ server_version: version }] = await dataSource.query('SHOW server_version');
      expect(version).toMatch(/^\d+/);
      await dataSource.destroy();
      // A second call while it runs finds it answering and starts nothing.
      const again = await ensureLocalPostgres({ dataDir, port });
      expect(again.origin).toBe('local');
    } finally {
      await local.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
