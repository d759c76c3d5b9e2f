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
