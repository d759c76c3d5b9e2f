import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When the upstream observed the copy of a PR a request holds (its event's `occurredAt`). A replayed or
 * re-driven older copy that arrives after a newer one is recognised by it and changes nothing, instead of
 * putting the request back on old text and paying for it again. Also records when every terminal record
 * began to be announced on results.merged.v1 (excluded and cache-answered ones were not before): reconcile
 * checks terminal events from then on. And since when a batch's polling status has been what it is, so that
 * a batch polled again and again without progress (its item list incomplete, every poll failing) is named
 * as stranded within minutes instead of at its 26-hour deadline.
 */
export class RequestSourceTime1763900008000 implements MigrationInterface {
  name = 'RequestSourceTime1763900008000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE requests ADD COLUMN source_occurred_at timestamptz');
    await queryRunner.query('ALTER TABLE batches ADD COLUMN status_since timestamptz');
    await queryRunner.query(
      `INSERT INTO control_state (key, value) VALUES ('ledger', jsonb_build_object('terminalEventsSince', now())) ON CONFLICT (key) DO NOTHING`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DELETE FROM control_state WHERE key = 'ledger'`);
    await queryRunner.query('ALTER TABLE batches DROP COLUMN status_since');
    await queryRunner.query('ALTER TABLE requests DROP COLUMN source_occurred_at');
  }
}
