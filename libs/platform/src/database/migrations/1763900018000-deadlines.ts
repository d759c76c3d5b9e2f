import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Deadlines (DEADLINES=on): a request may carry `deadline_at`; when its batch cannot answer before it, the
 * poller answers it through the provider's on-demand API, in a `batches` row of mode `on_demand` (its lease,
 * items, cost and finish are a batch's, so the one finish path publishes its outcomes). The line the request
 * left in its batch is marked `superseded_by` that row: when the batch finishes, that line is billed but never
 * published, so the request gets one terminal record.
 */
export class Deadlines1763900018000 implements MigrationInterface {
  name = 'Deadlines1763900018000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE requests ADD COLUMN deadline_at timestamptz');
    // The deadline sweep reads only requests with a deadline that are not terminal.
    await queryRunner.query(
      `CREATE INDEX requests_open_deadline ON requests (deadline_at) WHERE deadline_at IS NOT NULL AND status IN ('pending', 'in_flight')`,
    );
    await queryRunner.query(
      `ALTER TABLE batches ADD COLUMN mode text NOT NULL DEFAULT 'batch' CONSTRAINT batches_mode_check CHECK (mode IN ('batch', 'on_demand'))`,
    );
    await queryRunner.query('ALTER TABLE batch_items ADD COLUMN superseded_by text');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE batch_items DROP COLUMN superseded_by');
    await queryRunner.query('ALTER TABLE batches DROP COLUMN mode');
    await queryRunner.query('DROP INDEX requests_open_deadline');
    await queryRunner.query('ALTER TABLE requests DROP COLUMN deadline_at');
  }
}
