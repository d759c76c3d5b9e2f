import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The harmless deviations normalised in a succeeded answer (a repeated array item, a code fence,
 * an empty summary), as a JSON array of short texts: accepted and kept in sight, not paid for again.
 * NULL on rows written before it and on rows that are not successes.
 */
export class ResultFlags1763900005000 implements MigrationInterface {
  name = 'ResultFlags1763900005000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE results ADD COLUMN normalised jsonb`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE results DROP COLUMN normalised`);
  }
}
