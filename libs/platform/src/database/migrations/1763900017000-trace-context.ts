import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Tracing through the outbox (issue 17): the W3C `traceparent` that carries a trace across the places where
 * automatic propagation cannot follow it.
 *
 * - `outbox.traceparent`: the span that wrote the row; the relay publishes the row as a child of it and
 *   puts that child's context in the message headers (the write and the send are separate moments).
 * - `requests.traceparent`: the root of the request's own trace, started when it was accepted; every later
 *   step of the request (each pass, each retry) is a child of it, whichever batch carries it.
 * - `batches.traceparent`: the provider batch's own span (a trace of its own, linked to its requests);
 *   the poller's polls of the batch are its children.
 *
 * All nullable: rows written while tracing is off carry none, and are simply not traced.
 */
export class TraceContext1763900017000 implements MigrationInterface {
  name = 'TraceContext1763900017000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['outbox', 'requests', 'batches']) {
      await queryRunner.query(`ALTER TABLE ${table} ADD COLUMN traceparent text`);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['batches', 'requests', 'outbox']) {
      await queryRunner.query(`ALTER TABLE ${table} DROP COLUMN traceparent`);
    }
  }
}
