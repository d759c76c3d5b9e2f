import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Request stages as a closed set: the database refuses a status/stage pair the code does not know
 * (a typo in one UPDATE would otherwise park a request where no component looks for it). The check is
 * written out, as a migration must stay what it was; `request-stages.spec.ts` keeps it equal to
 * `REQUEST_STAGES`, so a new stage needs a new migration.
 */
export const REQUEST_STAGE_CHECK =
  "(status = 'pending' AND stage IN ('queued', 'retry_queued'))" +
  " OR (status = 'in_flight' AND stage IN ('submitting', 'submitted', 'awaiting_merge', 'awaiting_retry'))" +
  " OR (status = 'succeeded' AND stage IN ('merged', 'reused'))" +
  " OR (status = 'failed' AND stage IN ('merged'))" +
  " OR (status = 'excluded' AND stage IN ('excluded'))";

export class RequestStages1763900007000 implements MigrationInterface {
  name = 'RequestStages1763900007000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE requests ADD CONSTRAINT requests_stage_check CHECK (${REQUEST_STAGE_CHECK})`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE requests DROP CONSTRAINT requests_stage_check');
  }
}
