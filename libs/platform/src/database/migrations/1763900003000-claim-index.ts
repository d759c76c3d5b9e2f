import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The assembler claims the oldest pending requests of one group (`ORDER BY updated_at, request_id
 * LIMIT n`). Without an index in that order every claim sorted the whole backlog, wide `pr` column
 * included (100 ms at 18,000 pending, growing with the backlog); with it a claim reads n index entries.
 */
export class ClaimIndex1763900003000 implements MigrationInterface {
  name = 'ClaimIndex1763900003000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX requests_claim ON requests (pass, model, max_tokens, prompt_version, updated_at, request_id) WHERE status = 'pending'`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX requests_claim`);
  }
}
