import { ALL_MIGRATIONS } from '../../libs/platform/src/database/migrations/index.js';
import { RequestInputs1763900012000 } from '../../libs/platform/src/database/migrations/1763900012000-request-inputs.js';
import { createTestDatabase, type TestDatabase } from '../support/infra.js';

/**
 * The PR text moves from `requests.pr` to `request_inputs` with the requests already stored, and back:
 * a database migrated while requests are in flight keeps every PR, and batch formation gets their sizes.
 */
describe('migration 1763900012000: request inputs', () => {
  let db: TestDatabase;
  const migration = new RequestInputs1763900012000();
  const pr = { title: 'Add retries', body: 'Wraps the client in a retry loop — naïve but bounded.', createdAt: '2026-01-05T10:00:00Z' };

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  it('moves each stored PR to request_inputs with its size, and back on revert', async () => {
    const runner = db.dataSource.createQueryRunner();
    try {
      // Back to the schema before it (later migrations first), with one request stored the old way.
      const later = ALL_MIGRATIONS.slice(ALL_MIGRATIONS.indexOf(RequestInputs1763900012000)).reverse();
      for (const Migration of later) await new Migration().down(runner);
      await runner.query(
        `INSERT INTO requests (request_id, prompt_version, correlation_id, team, repo, pr_number, content_hash, status, stage, pr)
         VALUES ('acme/api#1', 'pr-analysis-v1', 'c', 'payments', 'acme/api', 1, 'h', 'pending', 'queued', $1)`,
        [JSON.stringify(pr)],
      );

      await migration.up(runner);
      const [moved] = await runner.query(
        `SELECT i.pr, r.pr_bytes, octet_length(i.pr::text) AS text_bytes FROM requests r JOIN request_inputs i USING (request_id, prompt_version)`,
      );
      expect(moved.pr).toEqual(pr);
      expect(moved.pr_bytes).toBe(moved.text_bytes);
      const columns = (await runner.query(`SELECT column_name FROM information_schema.columns WHERE table_name = 'requests'`)).map((c: { column_name: string }) => c.column_name);
      expect(columns).not.toContain('pr');
      // The input goes with its request.
      await runner.query(`DELETE FROM requests`);
      expect(await runner.query('SELECT 1 FROM request_inputs')).toHaveLength(0);

      await runner.query(
        `INSERT INTO requests (request_id, prompt_version, correlation_id, team, repo, pr_number, content_hash, status, stage, pr_bytes)
         VALUES ('acme/api#2', 'pr-analysis-v1', 'c', 'payments', 'acme/api', 2, 'h', 'pending', 'queued', 10)`,
      );
      await runner.query(`INSERT INTO request_inputs (request_id, prompt_version, pr) VALUES ('acme/api#2', 'pr-analysis-v1', $1)`, [JSON.stringify(pr)]);
      await migration.down(runner);
      const [restored] = await runner.query(`SELECT pr FROM requests WHERE request_id = 'acme/api#2'`);
      expect(restored.pr).toEqual(pr);
      expect(await runner.query(`SELECT to_regclass('request_inputs') AS t`)).toEqual([{ t: null }]);
    } finally {
      await runner.release();
    }
  });
});
