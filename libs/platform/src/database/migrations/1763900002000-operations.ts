import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Operators' controls, shared by every replica through the database: whether submission is paused
 * (and by whom), why the assembler is holding batches back (a quota or budget), and when the
 * response cache was last cleared. `requests.flags->>'cache'` records each lookup's hit or miss.
 */
export class Operations1763900002000 implements MigrationInterface {
  name = 'Operations1763900002000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE control_state (
        key text PRIMARY KEY,
        value jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`CREATE INDEX results_resolved ON results (resolved_at)`);
    // Attempt numbers keep rising when a PR's text changes (history stays unique per attempt);
    // the retry budget counts from the first attempt of the current text.
    await queryRunner.query(`ALTER TABLE requests ADD COLUMN first_attempt integer NOT NULL DEFAULT 1`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE requests DROP COLUMN first_attempt`);
    await queryRunner.query(`DROP INDEX results_resolved`);
    await queryRunner.query(`DROP TABLE control_state`);
  }
}
