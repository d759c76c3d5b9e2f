import { REQUEST_STAGE_CHECK } from './migrations/1763900007000-request-stages.js';
import { REQUEST_STAGES, requestStageCheckSql, stageOf } from './request-stages.js';

describe('request stages', () => {
  it('the database check is exactly the stages in code (a new stage needs a new migration)', () => {
    expect(requestStageCheckSql()).toBe(REQUEST_STAGE_CHECK);
  });

  it('every status has at least one stage, and terminal stages never hold pending or in-flight work', () => {
    for (const stages of Object.values(REQUEST_STAGES)) expect(stages.length).toBeGreaterThan(0);
    const open = new Set<string>([...REQUEST_STAGES.pending, ...REQUEST_STAGES.in_flight]);
    for (const stage of [...REQUEST_STAGES.succeeded, ...REQUEST_STAGES.failed, ...REQUEST_STAGES.excluded]) expect(open.has(stage)).toBe(false);
  });

  it('stageOf names the same rows as the status: its stages belong to no other status', () => {
    expect(stageOf('r.stage', 'in_flight')).toBe("r.stage IN ('submitting', 'submitted', 'awaiting_merge', 'awaiting_retry')");
    for (const status of ['pending', 'in_flight'] as const) {
      const others = Object.entries(REQUEST_STAGES).filter(([name]) => name !== status).flatMap(([, stages]) => stages as readonly string[]);
      for (const stage of REQUEST_STAGES[status]) expect(others).not.toContain(stage);
    }
  });
});
