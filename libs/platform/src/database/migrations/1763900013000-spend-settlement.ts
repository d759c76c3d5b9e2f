import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The daily spend budget settles to what the provider billed.
 *
 * `batches.reserved_usd` is what a batch was admitted at: the most its lines can cost (each line's input
 * estimate and its whole output budget). Today's spend is then read from `batches` by every replica and
 * service alike: a finished batch counts what it was billed (`cost_usd`, a cancelled or expired one only
 * its billed lines), an open one its reservation, a batch that never reached the provider nothing. Until
 * now the reservation was counted for good, so a budget stopped submission while the real spend was a
 * fraction of it. `batches_created` serves the day's sums.
 */
export class SpendSettlement1763900013000 implements MigrationInterface {
  name = 'SpendSettlement1763900013000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE batches ADD COLUMN reserved_usd numeric(14, 8)');
    await queryRunner.query('CREATE INDEX batches_created ON batches (created_at)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX batches_created');
    await queryRunner.query('ALTER TABLE batches DROP COLUMN reserved_usd');
  }
}
