import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import { METRICS, promConfig } from '../metrics/metric-catalogue.js';
import { PeriodicTask } from '../scheduling/periodic-task.js';

export interface RetentionPolicy {
  /** Sent outbox rows older than this are deleted (unsent and parked rows never are); decimals allowed. */
  outboxRetentionHours: number;
  /** Inbox ids older than this are deleted; decimals allowed. */
  inboxRetentionDays: number;
  /** Pause between two sweeps. */
  sweepMs: number;
  /** Rows per DELETE: short transactions, short locks, small WAL bursts. */
  batchSize?: number;
}

type PrunedTable = 'outbox' | 'processed_events';

/**
 * Deletes what the outbox and the inbox no longer need, in every service (each replica sweeps; the
 * batches skip rows another replica is deleting). One DELETE per batch of `batchSize` rows, oldest
 * first through an index, repeated until a batch comes back short.
 */
export class RetentionSweeper {
  private readonly loop: PeriodicTask;
  private readonly deleted: Counter<'table'>;
  private readonly batchSize: number;

  constructor(
    private readonly dataSource: DataSource,
    private readonly logger: Logger,
    private readonly policy: RetentionPolicy,
    registry: Registry,
  ) {
    this.loop = new PeriodicTask(() => this.sweep(), logger, {
      intervalMs: policy.sweepMs,
      failureMessage: 'retention sweep failed; the next one retries',
      unref: true,
    });
    this.batchSize = policy.batchSize ?? 1_000;
    this.deleted = new Counter({
      ...promConfig(METRICS.retentionDeleted),
      registers: [registry],
    });
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One sweep of both tables; returns what it deleted. */
  async sweep(): Promise<Record<PrunedTable, number>> {
    const outbox = await this.pruneBatches(
      'outbox',
      `DELETE FROM outbox WHERE id IN (
         SELECT id FROM outbox WHERE published_at IS NOT NULL AND published_at < now() - $1::float8 * interval '1 hour'
         ORDER BY published_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      this.policy.outboxRetentionHours,
    );
    const processed = await this.pruneBatches(
      'processed_events',
      `DELETE FROM processed_events WHERE (consumer_group, event_id) IN (
         SELECT consumer_group, event_id FROM processed_events WHERE processed_at < now() - $1::float8 * interval '1 day'
         ORDER BY processed_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      this.policy.inboxRetentionDays,
    );
    if (outbox + processed > 0) this.logger.info({ outbox, processedEvents: processed }, 'retention sweep deleted old rows');
    return { outbox, processed_events: processed };
  }

  private async pruneBatches(table: PrunedTable, sql: string, age: number): Promise<number> {
    let total = 0;
    for (;;) {
      const [, count] = (await this.dataSource.query(sql, [age, this.batchSize])) as [unknown, number];
      total += count;
      this.deleted.inc({ table }, count);
      if (count < this.batchSize) return total;
    }
  }
}
