import type { MigrationInterface, QueryRunner } from 'typeorm';
import { requestStageCheckSql } from '../request-stages.js';

/**
 * Request stages as a closed set: the database refuses a status/stage pair the code does not know
 * (a typo in one UPDATE would otherwise park a request where no component looks for it).
 */
export class RequestStages1763900007000 implements MigrationInterface {
  name = 'RequestStages1763900007000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE requests ADD CONSTRAINT requests_stage_check CHECK (${requestStageCheckSql()})`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE requests DROP CONSTRAINT requests_stage_check');
  }
}
