import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When the upstream observed the copy of a PR a request holds (its event's `occurredAt`). A replayed or
 * re-driven older copy that arrives after a newer one is recognised by it and changes nothing, instead of
 * putting the request back on old text and paying for it again.
 */
export class RequestSourceTime1763900008000 implements MigrationInterface {
  name = 'RequestSourceTime1763900008000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE requests ADD COLUMN source_occurred_at timestamptz');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE requests DROP COLUMN source_occurred_at');
  }
}
