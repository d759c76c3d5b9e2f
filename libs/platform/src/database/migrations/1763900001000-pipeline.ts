import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The pipeline's state. `requests` holds one row per request id and prompt version from ingestion
 * to its terminal status: the invariant `ingested = succeeded + failed + excluded + in_flight` is a
 * GROUP BY over it. `results` is the result-writer's terminal record; `attempts` keeps every try.
 */
export class Pipeline1763900001000 implements MigrationInterface {
  name = 'Pipeline1763900001000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE requests (
        request_id text NOT NULL,
        prompt_version text NOT NULL,
        correlation_id text NOT NULL,
        team text NOT NULL,
        repo text NOT NULL,
        pr_number integer NOT NULL,
        content_hash text NOT NULL,
        status text NOT NULL CHECK (status IN ('pending', 'in_flight', 'succeeded', 'failed', 'excluded')),
        stage text NOT NULL,
        exclusion_reason text,
        attempt integer NOT NULL DEFAULT 0,
        pass integer NOT NULL DEFAULT 0,
        model text,
        max_tokens integer,
        current_batch_id text,
        pr jsonb NOT NULL,
        flags jsonb NOT NULL DEFAULT '{}'::jsonb,
        ingested_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        stage_deadline_at timestamptz,
        PRIMARY KEY (request_id, prompt_version)
      )`);
    await queryRunner.query(`CREATE INDEX requests_pending ON requests (pass, model, ingested_at) WHERE status = 'pending'`);
    await queryRunner.query(`CREATE INDEX requests_status ON requests (status, stage)`);
    await queryRunner.query(`CREATE INDEX requests_content ON requests (content_hash, prompt_version)`);

    await queryRunner.query(`
      CREATE TABLE batches (
        batch_id text PRIMARY KEY,
        batch_key text NOT NULL UNIQUE,
        pass integer NOT NULL,
        model text NOT NULL,
        prompt_version text NOT NULL,
        max_tokens integer NOT NULL,
        state text NOT NULL CHECK (state IN ('creating', 'submitted', 'finished', 'submit_failed')),
        provider_batch_id text UNIQUE,
        provider_status text,
        input_file_id text,
        output_file_id text,
        error_file_id text,
        request_count integer NOT NULL,
        counts jsonb NOT NULL DEFAULT '{}'::jsonb,
        cost_usd numeric(14, 8) NOT NULL DEFAULT 0,
        last_error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        submitted_at timestamptz,
        finished_at timestamptz,
        tracked_at timestamptz,
        next_poll_at timestamptz,
        poll_count integer NOT NULL DEFAULT 0,
        lease_owner text,
        lease_until timestamptz
      )`);
    await queryRunner.query(`CREATE INDEX batches_due ON batches (next_poll_at) WHERE state = 'submitted'`);

    await queryRunner.query(`
      CREATE TABLE batch_items (
        batch_id text NOT NULL REFERENCES batches (batch_id),
        request_id text NOT NULL,
        prompt_version text NOT NULL,
        attempt integer NOT NULL,
        metadata jsonb NOT NULL,
        outcome text,
        PRIMARY KEY (batch_id, request_id)
      )`);
    await queryRunner.query(`CREATE INDEX batch_items_request ON batch_items (request_id, prompt_version)`);

    await queryRunner.query(`
      CREATE TABLE attempts (
        request_id text NOT NULL,
        prompt_version text NOT NULL,
        attempt integer NOT NULL,
        pass integer NOT NULL,
        model text NOT NULL,
        batch_id text NOT NULL,
        outcome text NOT NULL CHECK (outcome IN ('succeeded', 'failed')),
        code text,
        message text,
        http_status integer,
        failed_generation text,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (request_id, prompt_version, attempt)
      )`);

    await queryRunner.query(`
      CREATE TABLE results (
        request_id text NOT NULL,
        prompt_version text NOT NULL,
        status text NOT NULL CHECK (status IN ('succeeded', 'failed', 'excluded')),
        team text NOT NULL,
        repo text NOT NULL,
        pr_number integer NOT NULL,
        content_hash text NOT NULL,
        analysis jsonb,
        model text,
        pass integer,
        attempt integer,
        prompt_tokens integer NOT NULL DEFAULT 0,
        completion_tokens integer NOT NULL DEFAULT 0,
        cost_usd numeric(14, 8) NOT NULL DEFAULT 0,
        error_code text,
        error_message text,
        attempts jsonb NOT NULL DEFAULT '[]'::jsonb,
        resolved_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (request_id, prompt_version)
      )`);
    await queryRunner.query(`CREATE INDEX results_reuse ON results (content_hash, prompt_version) WHERE status = 'succeeded'`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['results', 'attempts', 'batch_items', 'batches', 'requests']) {
      await queryRunner.query(`DROP TABLE ${table}`);
    }
  }
}
