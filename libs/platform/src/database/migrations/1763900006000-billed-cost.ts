import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A batch's cost is what the provider bills for it, in three parts: answered lines, failed lines that
 * reported usage, and billed failed lines without usage, whose prompt tokens are estimated from the
 * request we sent (completion tokens unknowable). `cost_usd` stays the batch's total, now all three.
 * Batches finished before this migration cannot be split again: their whole cost counts as answered.
 */
export class BilledCost1763900006000 implements MigrationInterface {
  name = 'BilledCost1763900006000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE batches
        ADD COLUMN answered_cost_usd numeric(14, 8) NOT NULL DEFAULT 0,
        ADD COLUMN answered_lines integer NOT NULL DEFAULT 0,
        ADD COLUMN answered_prompt_tokens bigint NOT NULL DEFAULT 0,
        ADD COLUMN answered_completion_tokens bigint NOT NULL DEFAULT 0,
        ADD COLUMN failed_cost_usd numeric(14, 8) NOT NULL DEFAULT 0,
        ADD COLUMN failed_lines integer NOT NULL DEFAULT 0,
        ADD COLUMN failed_prompt_tokens bigint NOT NULL DEFAULT 0,
        ADD COLUMN failed_completion_tokens bigint NOT NULL DEFAULT 0,
        ADD COLUMN estimated_cost_usd numeric(14, 8) NOT NULL DEFAULT 0,
        ADD COLUMN estimated_lines integer NOT NULL DEFAULT 0,
        ADD COLUMN estimated_prompt_tokens bigint NOT NULL DEFAULT 0,
        ADD COLUMN estimated_completion_tokens bigint NOT NULL DEFAULT 0`);
    await queryRunner.query(`UPDATE batches SET answered_cost_usd = cost_usd WHERE state = 'finished'`);
    // Their answered lines and tokens from the results they produced, so always-strong prices them too.
    await queryRunner.query(`
      UPDATE batches b SET answered_lines = x.lines, answered_prompt_tokens = x.prompt, answered_completion_tokens = x.completion
      FROM (SELECT a.batch_id, count(*)::int AS lines, sum(r.prompt_tokens)::bigint AS prompt, sum(r.completion_tokens)::bigint AS completion
            FROM attempts a
            JOIN results r ON r.request_id = a.request_id AND r.prompt_version = a.prompt_version AND r.attempt = a.attempt
            WHERE a.outcome = 'succeeded' GROUP BY a.batch_id) x
      WHERE b.batch_id = x.batch_id AND b.state = 'finished'`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE batches
        DROP COLUMN answered_cost_usd, DROP COLUMN answered_lines, DROP COLUMN answered_prompt_tokens,
        DROP COLUMN answered_completion_tokens, DROP COLUMN failed_cost_usd, DROP COLUMN failed_lines,
        DROP COLUMN failed_prompt_tokens, DROP COLUMN failed_completion_tokens, DROP COLUMN estimated_cost_usd,
        DROP COLUMN estimated_lines, DROP COLUMN estimated_prompt_tokens, DROP COLUMN estimated_completion_tokens`);
  }
}
