import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Quota-aware routing (QUOTA_FALLBACK=next-model): when a model's quota or budget holds its waiting
 * requests, the assembler may move them to the next model of the chain that has room. Each move is recorded
 * here, per request and attempt, with the limit that caused it, for `cascade status` and the ops API.
 */
export class QuotaFallbacks1763900016000 implements MigrationInterface {
  name = 'QuotaFallbacks1763900016000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE quota_fallbacks (
        request_id text NOT NULL,
        prompt_version text NOT NULL,
        attempt integer NOT NULL,
        from_model text NOT NULL,
        to_model text NOT NULL,
        kind text NOT NULL,
        reason text NOT NULL,
        decided_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (request_id, prompt_version, attempt, from_model)
      )`);
    await queryRunner.query('CREATE INDEX quota_fallbacks_decided ON quota_fallbacks (decided_at)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE quota_fallbacks');
  }
}
