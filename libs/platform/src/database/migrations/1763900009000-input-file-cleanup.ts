import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When the poller deleted a finished batch's input file at the provider: the file holds PR text and counts
 * against the provider's storage once the outcomes are recorded. Null on a finished batch with an input file
 * means the delete has yet to succeed, and the poller tries it again.
 */
export class InputFileCleanup1763900009000 implements MigrationInterface {
  name = 'InputFileCleanup1763900009000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE batches ADD COLUMN input_file_deleted_at timestamptz');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE batches DROP COLUMN input_file_deleted_at');
  }
}
