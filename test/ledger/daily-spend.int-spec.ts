import { dailySpend, dailySpendByModel } from '#batching';
import { createTestDatabase, type TestDatabase } from '../support/infra.js';

/** Today's spend from `batches`: billed once finished, reserved while open, nothing if it never reached the provider; by UTC day. */
describe('dailySpend', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  async function batch(id: string, state: string, createdAt: string, reservedUsd: number | null, costUsd = 0, model = 'openai/gpt-oss-20b') {
    await db.dataSource.query(
      `INSERT INTO batches (batch_id, batch_key, pass, model, prompt_version, max_tokens, state, request_count, created_at, reserved_usd, cost_usd)
       VALUES ($1, $1, 1, $6, 'pr-analysis-v1', 1024, $2, 10, $3, $4, $5)`,
      [id, state, createdAt, reservedUsd, costUsd, model],
    );
  }

  it('counts each batch of the UTC day once: what it was billed when finished, its reservation while open', async () => {
    await batch('finished-today', 'finished', '2026-11-23T00:00:00Z', 0.5, 0.2);
    await batch('expired-today', 'finished', '2026-11-23T09:00:00Z', 0.5, 0.05);
    await batch('creating-today', 'creating', '2026-11-23T10:00:00Z', 0.3);
    await batch('submitted-today', 'submitted', '2026-11-23T23:59:59Z', 0.4);
    await batch('never-sent-today', 'submit_failed', '2026-11-23T11:00:00Z', 0.9);
    await batch('from-before-reservations', 'submitted', '2026-11-23T12:00:00Z', null);
    await batch('yesterday', 'submitted', '2026-11-22T23:59:59Z', 7);
    await batch('tomorrow', 'finished', '2026-11-24T00:00:00Z', 7, 7);

    const spend = await dailySpend(db.dataSource.manager, new Date('2026-11-23T15:00:00Z'));
    expect(spend.settledUsd).toBeCloseTo(0.25, 10);
    expect(spend.reservedUsd).toBeCloseTo(0.7, 10);
    // The day before: only the batch formed then.
    expect(await dailySpend(db.dataSource.manager, new Date('2026-11-22T08:00:00Z'))).toEqual({ settledUsd: 0, reservedUsd: 7 });
  });

  it('splits the day by model for the metrics, and the budget weighs their sum', async () => {
    await batch('cheap-finished', 'finished', '2026-11-25T01:00:00Z', 0.5, 0.125);
    await batch('cheap-open', 'submitted', '2026-11-25T02:00:00Z', 0.25);
    await batch('strong-open', 'creating', '2026-11-25T03:00:00Z', 2, 0, 'llama-3.3-70b-versatile');
    const at = new Date('2026-11-25T12:00:00Z');
    expect(Object.fromEntries(await dailySpendByModel(db.dataSource.manager, at))).toEqual({
      'openai/gpt-oss-20b': { settledUsd: 0.125, reservedUsd: 0.25 },
      'llama-3.3-70b-versatile': { settledUsd: 0, reservedUsd: 2 },
    });
    expect(await dailySpend(db.dataSource.manager, at)).toEqual({ settledUsd: 0.125, reservedUsd: 2.25 });
  });
});
