import { randomUUID } from 'node:crypto';
import { MEASURED_TABLES, registerStorageMetrics, RetentionSweeper } from '#platform';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createTestDatabase, type TestDatabase } from '../support/infra.js';

describe('retention: the outbox and the inbox are pruned, their sizes exported', () => {
  let db: TestDatabase;
  const logger = pino({ level: 'silent' });

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db?.drop();
  });

  async function outboxRow(label: string, createdAgo: string, publishedAgo: string | null, parked: string | null = null): Promise<void> {
    await db.dataSource.query(
      `INSERT INTO outbox (event_id, topic, message_key, message_value, headers, created_at, published_at, parked_reason)
       VALUES ($1, 't', $2, 'v', '{}', now() - $3::interval, now() - $4::interval, $5)`,
      [randomUUID(), label, createdAgo, publishedAgo, parked],
    );
  }

  async function inboxRow(group: string, ago: string): Promise<void> {
    await db.dataSource.query(`INSERT INTO processed_events (consumer_group, event_id, topic, processed_at) VALUES ($1, $2, 't', now() - $3::interval)`, [
      group,
      randomUUID(),
      ago,
    ]);
  }

  it('deletes sent outbox rows and inbox ids past retention, in batches, and never newer or unsent ones', async () => {
    for (let i = 0; i < 7; i++) await outboxRow('sent-old', '30 hours', '25 hours');
    await outboxRow('sent-new', '2 hours', '1 hour');
    // Unsent for days (the broker was away): kept however old.
    await outboxRow('unsent-old', '5 days', null);
    await outboxRow('parked-old', '5 days', null, 'too large');
    for (let i = 0; i < 5; i++) await inboxRow(`g${i % 2}`, '15 days');
    await inboxRow('g0', '13 days');
    await inboxRow('g1', '1 minute');

    const sweeper = new RetentionSweeper(db.dataSource, logger, { outboxRetentionHours: 24, inboxRetentionDays: 14, sweepMs: 60_000, batchSize: 3 }, new Registry());
    expect(await sweeper.sweep()).toEqual({ outbox: 7, processed_events: 5 });

    const kept = await db.dataSource.query(`SELECT message_key FROM outbox ORDER BY message_key`);
    expect(kept.map((r: { message_key: string }) => r.message_key)).toEqual(['parked-old', 'sent-new', 'unsent-old']);
    const [{ n }] = await db.dataSource.query(`SELECT count(*)::int AS n FROM processed_events WHERE processed_at > now() - interval '14 days'`);
    const [{ all }] = await db.dataSource.query(`SELECT count(*)::int AS all FROM processed_events`);
    expect([n, all]).toEqual([2, 2]);
    // A second sweep finds nothing.
    expect(await sweeper.sweep()).toEqual({ outbox: 0, processed_events: 0 });
  });

  it('deletes through the indexes, not by scanning the tables', async () => {
    const plans = [
      `SELECT id FROM outbox WHERE published_at IS NOT NULL AND published_at < now() - 24::float8 * interval '1 hour' ORDER BY published_at LIMIT 1000`,
      `SELECT consumer_group, event_id FROM processed_events WHERE processed_at < now() - 14::float8 * interval '1 day' ORDER BY processed_at LIMIT 1000`,
    ];
    const runner = db.dataSource.createQueryRunner();
    try {
      // The test tables are tiny: without this the planner would rightly prefer reading them whole.
      await runner.query('SET enable_seqscan = off');
      for (const sql of plans) {
        const plan: Array<{ 'QUERY PLAN': string }> = await runner.query(`EXPLAIN ${sql}`);
        expect(plan.map((row) => row['QUERY PLAN']).join('\n')).toMatch(/(Index Scan using|Bitmap Index Scan on) (outbox_sent|processed_events_age)/);
      }
    } finally {
      await runner.query('RESET enable_seqscan');
      await runner.release();
    }
  });

  it('exports rows and bytes of every table that grows, and the outbox backlog', async () => {
    await db.dataSource.query('ANALYZE');
    const registry = new Registry();
    registerStorageMetrics(registry, db.dataSource);
    const text = await registry.metrics();
    for (const table of MEASURED_TABLES) {
      expect(text).toMatch(new RegExp(`cascade_table_bytes\\{table="${table}"\\} [1-9]\\d*`));
      expect(text).toMatch(new RegExp(`cascade_table_rows\\{table="${table}"\\} \\d+`));
    }
    expect(text).toMatch(/cascade_table_rows\{table="outbox"\} 3\b/);
    expect(text).toMatch(/cascade_table_rows\{table="processed_events"\} 2\b/);
    expect(text).toMatch(/cascade_outbox_pending 1\b/);
    expect(text).toMatch(/cascade_outbox_parked 1\b/);
  });

  it('takes retention shorter than its unit (decimal hours and days)', async () => {
    await db.dataSource.query('TRUNCATE outbox, processed_events');
    await outboxRow('sent-40-min-ago', '41 minutes', '40 minutes');
    await outboxRow('sent-20-min-ago', '21 minutes', '20 minutes');
    await inboxRow('g0', '2 hours');
    await inboxRow('g0', '30 minutes');

    // Half an hour of outbox, one hour of inbox.
    const sweeper = new RetentionSweeper(db.dataSource, logger, { outboxRetentionHours: 0.5, inboxRetentionDays: 1 / 24, sweepMs: 60_000 }, new Registry());
    expect(await sweeper.sweep()).toEqual({ outbox: 1, processed_events: 1 });
    const kept = await db.dataSource.query(`SELECT message_key FROM outbox`);
    expect(kept.map((r: { message_key: string }) => r.message_key)).toEqual(['sent-20-min-ago']);
  });
});
