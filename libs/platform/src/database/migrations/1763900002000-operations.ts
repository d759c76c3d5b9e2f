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
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX results_resolved`);
    await queryRunner.query(`DROP TABLE control_state`);
  }
}
