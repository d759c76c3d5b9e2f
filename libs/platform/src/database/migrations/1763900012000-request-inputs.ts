import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The PR text leaves `requests` for a table of its own, written once at ingestion.
 *
 * A request's row is updated four or five times on its way to a terminal record (submitting, submitted,
 * awaiting a merge or a retry, merged), and every update writes a new version of the whole row: with the
 * stored PR inline (about 1.1 KB of the row's 1.5 KB) each update copied it, and the table held 6,300
 * bytes per PR after a 100,000-PR run against 1,450 of live rows. `request_inputs` is written when the
 * request is ingested (or its text replaced) and only read after that: by batch formation, the upload
 * and the poller's rebuilding of failed lines. `requests.pr_bytes` keeps the text's size for batch
 * formation, which cuts batches by bytes without reading the text.
 *
 * `requests_status` (status, stage) becomes `requests_open` (status) over the open requests only. The
 * updates that move a batch's requests name them by key and check their stage; with 1,000 keys the
 * planner preferred walking `requests_status` by its second column (`stage = 'submitting'`: every request
 * in that stage and their dead row versions) to 1,000 key lookups, and that one update took more database
 * time than any other statement of the 40,000-PR bench. What reads requests by status reads open ones
 * (`reconcile`, `cascade status`); the terminal ones are counted by scans either way.
 */
export class RequestInputs1763900012000 implements MigrationInterface {
  name = 'RequestInputs1763900012000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE request_inputs (
        request_id text NOT NULL,
        prompt_version text NOT NULL,
        pr jsonb NOT NULL,
        PRIMARY KEY (request_id, prompt_version),
        FOREIGN KEY (request_id, prompt_version) REFERENCES requests (request_id, prompt_version) ON DELETE CASCADE
      )`);
    await queryRunner.query('ALTER TABLE requests ADD COLUMN pr_bytes integer');
    await queryRunner.query('INSERT INTO request_inputs (request_id, prompt_version, pr) SELECT request_id, prompt_version, pr FROM requests');
    await queryRunner.query('UPDATE requests SET pr_bytes = octet_length(pr::text)');
    await queryRunner.query('ALTER TABLE requests ALTER COLUMN pr_bytes SET NOT NULL');
    await queryRunner.query('ALTER TABLE requests DROP COLUMN pr');
    // Superseded by requests_claim (the same rows, in the order batches are formed); nothing reads it.
    await queryRunner.query('DROP INDEX requests_pending');
    await queryRunner.query('DROP INDEX requests_status');
    await queryRunner.query(`CREATE INDEX requests_open ON requests (status) WHERE status IN ('pending', 'in_flight')`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX requests_open');
    await queryRunner.query('CREATE INDEX requests_status ON requests (status, stage)');
    await queryRunner.query(`CREATE INDEX requests_pending ON requests (pass, model, ingested_at) WHERE status = 'pending'`);
    await queryRunner.query('ALTER TABLE requests ADD COLUMN pr jsonb');
    await queryRunner.query('UPDATE requests r SET pr = i.pr FROM request_inputs i WHERE i.request_id = r.request_id AND i.prompt_version = r.prompt_version');
    await queryRunner.query(`UPDATE requests SET pr = '{}'::jsonb WHERE pr IS NULL`);
    await queryRunner.query('ALTER TABLE requests ALTER COLUMN pr SET NOT NULL');
    await queryRunner.query('ALTER TABLE requests DROP COLUMN pr_bytes');
    await queryRunner.query('DROP TABLE request_inputs');
  }
}
