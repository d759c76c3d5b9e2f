import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Submission that never pays twice and never retries forever.
 *
 * - `lease_epoch` grows each time a batch's submission lease is taken (intent, resume, an operator's
 *   retry). A submitter writes after its create only while the epoch it took is still the batch's: one
 *   that lost its lease hands its provider batch over instead of recording it.
 * - `submit_attempts` and `held_reason`: failed submissions back off exponentially and, after a cap or a
 *   failure that retrying cannot fix, are held with the reason shown until an operator retries them.
 * - `stray_provider_batches`: provider batches that carry one of our keys but are not the one recorded for
 *   it: handed over by a submitter that lost its lease, found by key next to another, or found by the
 *   provider sweep; each is adopted or cancelled, and the cancel is kept until the provider accepted it.
 */
export class SubmissionFencing1763900010000 implements MigrationInterface {
  name = 'SubmissionFencing1763900010000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE batches ADD COLUMN lease_epoch bigint NOT NULL DEFAULT 0');
    await queryRunner.query('ALTER TABLE batches ADD COLUMN submit_attempts integer NOT NULL DEFAULT 0');
    await queryRunner.query('ALTER TABLE batches ADD COLUMN held_reason text');
    await queryRunner.query(`
      CREATE TABLE stray_provider_batches (
        provider_batch_id text PRIMARY KEY,
        batch_key text NOT NULL,
        batch_id text REFERENCES batches (batch_id),
        input_file_id text,
        provider_status text,
        disposition text NOT NULL CHECK (disposition IN ('handed_over', 'cancelling', 'cancelled', 'cancel_failed', 'finished_unused')),
        found_by text NOT NULL CHECK (found_by IN ('create', 'key_lookup', 'sweep')),
        note text,
        found_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query('CREATE INDEX stray_provider_batches_batch ON stray_provider_batches (batch_id)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE stray_provider_batches');
    await queryRunner.query('ALTER TABLE batches DROP COLUMN held_reason');
    await queryRunner.query('ALTER TABLE batches DROP COLUMN submit_attempts');
    await queryRunner.query('ALTER TABLE batches DROP COLUMN lease_epoch');
  }
}
