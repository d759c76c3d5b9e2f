import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Bounded storage.
 *
 * - `outbox_sent` and `processed_events_age`: the retention sweep deletes sent outbox rows and old inbox
 *   ids oldest first, a small batch at a time; without them each batch would scan the whole table.
 * - `outbox.parked_reason`: a row the broker refuses for good (larger than the topic's
 *   `max.message.bytes`) is parked with the reason instead of blocking every row behind it. Parked rows
 *   are unsent: the relay skips them, the sweep keeps them until an operator releases them.
 */
export class Retention1763900011000 implements MigrationInterface {
  name = 'Retention1763900011000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE INDEX outbox_sent ON outbox (published_at) WHERE published_at IS NOT NULL');
    await queryRunner.query('CREATE INDEX processed_events_age ON processed_events (processed_at)');
    await queryRunner.query('ALTER TABLE outbox ADD COLUMN parked_reason text');
    await queryRunner.query('DROP INDEX outbox_unpublished');
    await queryRunner.query('CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL AND parked_reason IS NULL');
    await queryRunner.query('CREATE INDEX outbox_parked ON outbox (id) WHERE parked_reason IS NOT NULL');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX outbox_parked');
    await queryRunner.query('DROP INDEX outbox_unpublished');
    await queryRunner.query('ALTER TABLE outbox DROP COLUMN parked_reason');
    await queryRunner.query('CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL');
    await queryRunner.query('DROP INDEX processed_events_age');
    await queryRunner.query('DROP INDEX outbox_sent');
  }
}
