import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Predictive routing (issue 16): versioned router models and one routing record per scored request.
 *
 * `router_models` holds each trained version whole — the features it reads, their scaling and the fitted
 * regression (`model`), the repository and author failure counts it was trained with (`history`), the
 * expected-cost threshold for the chain's first and next model, and the hold-out metrics — so a version is
 * scored, evaluated and rolled back from the database alone; the newest version is the one used.
 * `routing_decisions` records, per request text, the score, the version and threshold it was scored with,
 * the mode (`shadow` records only; `learned` acts), the decision and its reason, and the first model chosen.
 */
export class Routing1763900014000 implements MigrationInterface {
  name = 'Routing1763900014000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE router_models (
        version serial PRIMARY KEY,
        trained_at timestamptz NOT NULL DEFAULT now(),
        cheap_model text NOT NULL,
        strong_model text NOT NULL,
        features jsonb NOT NULL,
        model jsonb NOT NULL,
        history jsonb NOT NULL,
        threshold double precision NOT NULL CHECK (threshold >= 0),
        preference text NOT NULL CHECK (preference IN ('cost', 'latency')),
        training_rows integer NOT NULL,
        holdout_from timestamptz,
        metrics jsonb NOT NULL
      )`);
    await queryRunner.query(`
      CREATE TABLE routing_decisions (
        request_id text NOT NULL,
        prompt_version text NOT NULL,
        content_hash text NOT NULL,
        model_version integer NOT NULL REFERENCES router_models (version),
        score double precision NOT NULL,
        threshold double precision NOT NULL,
        mode text NOT NULL CHECK (mode IN ('shadow', 'learned')),
        decision text NOT NULL CHECK (decision IN ('cheap_first', 'routed')),
        reason text NOT NULL,
        model text NOT NULL,
        decided_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (request_id, prompt_version, content_hash)
      )`);
    await queryRunner.query('CREATE INDEX routing_decisions_decided ON routing_decisions (decided_at)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE routing_decisions');
    await queryRunner.query('DROP TABLE router_models');
  }
}
