import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every message a consumer dead-letters, one row per (consumer group, source topic, partition, offset):
 * what was refused and why, and the request id when the raw JSON carries one, so that an id that was
 * ingested but could not be stored is accounted as dead-lettered. `redriven_at` is set by
 * `cascade dlq replay` once the original bytes are published again.
 */
export class DeadLetters1763900004000 implements MigrationInterface {
  name = 'DeadLetters1763900004000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE dead_letters (
        consumer_group text NOT NULL,
        topic text NOT NULL,
        partition integer NOT NULL,
        message_offset bigint NOT NULL,
        event_id text,
        request_id text,
        prompt_version text,
        reason text NOT NULL,
        path text NOT NULL DEFAULT '',
        dlq_topic text NOT NULL,
        dead_lettered_at timestamptz NOT NULL DEFAULT now(),
        redriven_at timestamptz,
        PRIMARY KEY (consumer_group, topic, partition, message_offset)
      )`);
    await queryRunner.query(`CREATE INDEX dead_letters_request ON dead_letters (request_id, prompt_version)`);
    await queryRunner.query(`CREATE INDEX dead_letters_pending ON dead_letters (dead_lettered_at) WHERE redriven_at IS NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE dead_letters');
  }
}
