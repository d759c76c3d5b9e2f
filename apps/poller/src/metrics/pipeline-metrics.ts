import { completionWindowHoursOf, dailySpendByModel, modelEntryProblem, modelRefOf, PROVIDERS, type ProviderName } from '#batching';
import { countStrandedAndStuck } from '#ledger';
import { cachedRead, collectFrom, ConsumerMetrics, METRICS, promConfig } from '#platform';
import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, type Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { BatchTrackingRepository, IN_FLIGHT_AGES_HOURS } from '../tracking/batch-tracking.repository.js';

export const PIPELINE_METRICS_SETTINGS = Symbol('PIPELINE_METRICS_SETTINGS');

export interface PipelineMetricsSettings {
  /** MODEL_CHAIN: its models are exported at 0 when idle, so a series never vanishes (an autoscaler reads absent as unknown). */
  modelChain: readonly string[];
  stageDeadlineMs: number;
  strandedAfterMs: number;
  dailySpendBudgetUsd: number | undefined;
  groqCompletionWindow: string;
  /** How long one read of the database serves the scrapes of every replica's scraper. */
  cacheMs: number;
}

/** The provider a stored model id belongs to; `unknown` for an id no provider of this version claims. */
function providerOf(model: string): ProviderName | 'unknown' {
  return modelEntryProblem(model) ? 'unknown' : modelRefOf(model).provider;
}

/**
 * The pipeline's own metrics, exported by the poller alone (it owns the batches at the provider and the ops views):
 * counters of the request lines of every finished batch, incremented by the replica that finished it, and gauges
 * read from the database at scrape time. Every poller replica reads the same gauges: combine them with max().
 */
@Injectable()
export class PipelineMetrics {
  private readonly attempts: Counter<'model' | 'pass' | 'outcome'>;
  private readonly failures: Counter<'model' | 'pass' | 'code'>;

  constructor(
    @Inject(ConsumerMetrics) metrics: ConsumerMetrics,
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(BatchTrackingRepository) private readonly tracking: BatchTrackingRepository,
    @Inject(PIPELINE_METRICS_SETTINGS) private readonly settings: PipelineMetricsSettings,
  ) {
    const registry = metrics.registry;
    this.attempts = new Counter({ ...promConfig(METRICS.requestAttempts), registers: [registry] });
    this.failures = new Counter({ ...promConfig(METRICS.requestFailures), registers: [registry] });
    this.registerBatchGauges(registry);
    this.registerRequestGauges(registry);
    this.registerSpendGauges(registry);
  }

  /**
   * One finished batch's lines. Called after the transaction that finished it committed: the lease lets one
   * replica finish a batch, so summing the replicas' counters counts each line once.
   */
  recordFinishedBatch(batch: { model: string; pass: number }, succeeded: number, failureCodes: readonly string[]): void {
    const pass = String(batch.pass);
    this.attempts.inc({ model: batch.model, pass, outcome: 'succeeded' }, succeeded);
    this.attempts.inc({ model: batch.model, pass, outcome: 'failed' }, failureCodes.length);
    for (const code of failureCodes) this.failures.inc({ model: batch.model, pass, code });
  }

  private registerBatchGauges(registry: Registry): void {
    const collect = collectFrom(cachedRead(() => this.tracking.openBatchesByModel(this.dataSource.manager), this.settings.cacheMs));
    const models = (open: ReadonlyArray<{ model: string }>) => [...new Set([...this.settings.modelChain, ...open.map((row) => row.model)])];
    new Gauge({
      ...promConfig(METRICS.batchesInFlight),
      registers: [registry],
      async collect() {
        await collect((open) => {
          this.reset();
          for (const model of models(open)) this.set({ model, provider: providerOf(model) }, open.find((row) => row.model === model)?.batches ?? 0);
        });
      },
    });
    new Gauge({
      ...promConfig(METRICS.batchesInFlightOlderThan),
      registers: [registry],
      async collect() {
        await collect((open) => {
          this.reset();
          for (const model of models(open)) {
            const row = open.find((r) => r.model === model);
            IN_FLIGHT_AGES_HOURS.forEach((hours, i) => this.set({ model, provider: providerOf(model), age: `${hours}h` }, row?.olderThan[i] ?? 0));
          }
        });
      },
    });
    new Gauge({
      ...promConfig(METRICS.batchOldestAge),
      registers: [registry],
      async collect() {
        await collect((open) => {
          // No batch, no age: the series goes away rather than claiming 0 seconds.
          this.reset();
          for (const row of open) this.set({ model: row.model, provider: providerOf(row.model) }, row.oldestAgeSeconds);
        });
      },
    });
    const windows = new Gauge({ ...promConfig(METRICS.batchCompletionWindow), registers: [registry] });
    const hours = completionWindowHoursOf({ GROQ_COMPLETION_WINDOW: this.settings.groqCompletionWindow });
    for (const provider of PROVIDERS) windows.set({ provider }, hours[provider] * 3_600);
  }

  private registerRequestGauges(registry: Registry): void {
    // The rules and the query of `cascade reconcile`: it counts every open request, so it is read less often.
    const collect = collectFrom(
      cachedRead(
        () =>
          countStrandedAndStuck(this.dataSource.manager, {
            strandedAfterMs: this.settings.strandedAfterMs,
            defaultStageDeadlineMs: this.settings.stageDeadlineMs,
          }),
        this.settings.cacheMs * 3,
      ),
    );
    new Gauge({
      ...promConfig(METRICS.requestsStranded),
      registers: [registry],
      async collect() {
        await collect((counts) => this.set(counts.stranded));
      },
    });
    new Gauge({
      ...promConfig(METRICS.requestsStuck),
      registers: [registry],
      async collect() {
        await collect((counts) => this.set(counts.stuck));
      },
    });
  }

  private registerSpendGauges(registry: Registry): void {
    const collect = collectFrom(cachedRead(() => dailySpendByModel(this.dataSource.manager), this.settings.cacheMs));
    const chain = this.settings.modelChain;
    new Gauge({
      ...promConfig(METRICS.spend),
      registers: [registry],
      async collect() {
        await collect((spend) => {
          // A new UTC day starts at 0: reset, so yesterday's models do not linger.
          this.reset();
          for (const model of new Set([...chain, ...spend.keys()])) {
            this.set({ model, basis: 'billed' }, spend.get(model)?.settledUsd ?? 0);
            this.set({ model, basis: 'reserved' }, spend.get(model)?.reservedUsd ?? 0);
          }
        });
      },
    });
    // Without a budget there is no series: a 0 would read as a budget of nothing, always exceeded.
    if (this.settings.dailySpendBudgetUsd !== undefined) {
      new Gauge({ ...promConfig(METRICS.spendBudget), registers: [registry] }).set(this.settings.dailySpendBudgetUsd);
    }
  }
}
