import { type PriceTable, priceOf } from '#groq-batch';
import type { DataSource, EntityManager } from 'typeorm';
import type { SubmissionQuota } from '../batch-assembler.js';
import { type DailySpend, dailySpend } from './daily-spend.js';
import { type Admission, admitLines, estimateLine, type LineEstimate, type ModelLimits } from './quota-gate.js';
import type { ModelUsage, QuotaStore } from './quota-store.js';

export interface QuotaSettings {
  limits: Record<string, ModelLimits>;
  /** Applies to every model without its own tokensPerDay. */
  dailyTokenBudget?: number;
  dailySpendBudgetUsd?: number;
  prices: PriceTable;
}

export interface ModelQuotaView {
  model: string;
  limits: ModelLimits;
  usage: ModelUsage;
}

/**
 * The assembler's view of quotas: request and token counters from the store, today's spend from the
 * database (reserved while a batch is open, settled to what was billed once it finished), limits and
 * budgets from configuration.
 */
export class QuotaGuard implements SubmissionQuota {
  constructor(
    readonly store: QuotaStore,
    private readonly settings: QuotaSettings,
    private readonly dataSource: DataSource,
  ) {}

  limitsOf(model: string): ModelLimits {
    const own = this.settings.limits[model] ?? {};
    return { ...own, tokensPerDay: own.tokensPerDay ?? this.settings.dailyTokenBudget };
  }

  estimate(model: string, requestBodyChars: number, maxTokens: number): LineEstimate {
    return estimateLine(requestBodyChars, maxTokens, priceOf(this.settings.prices, model));
  }

  /**
   * `manager`: the transaction forming the batch. With a spend budget, formations take turns (a transaction
   * lock, released at commit): each reads today's spend with the reservations of the batches formed before
   * it, so two replicas never both admit the last of the budget.
   */
  async admit(model: string, lines: readonly LineEstimate[], manager: EntityManager = this.dataSource.manager): Promise<Admission> {
    if (this.settings.dailySpendBudgetUsd !== undefined) await manager.query('SELECT pg_advisory_xact_lock($1)', [SPEND_BUDGET_LOCK_ID]);
    const now = new Date();
    const [usage, spend] = await Promise.all([this.store.usage(model, now), dailySpend(manager, now)]);
    return admitLines(model, lines, usage, committedUsd(spend), this.limitsOf(model), this.settings.dailySpendBudgetUsd);
  }

  /** Counts the lines' requests and tokens; their spend is reserved with the batch (`batches.reserved_usd`). */
  async record(model: string, lines: readonly LineEstimate[]): Promise<void> {
    if (lines.length === 0) return;
    const tokens = lines.reduce((sum, l) => sum + l.tokens, 0);
    await this.store.record(model, { requests: lines.length, tokens });
  }

  /** For the ops API: the spend budget against today's settled and reserved spend, every configured or used model with its limits and counters. */
  async view(knownModels: readonly string[] = []): Promise<{
    store: QuotaStore['kind'];
    dailySpendBudgetUsd: number | null;
    spentTodayUsd: number;
    spend: DailySpend & { committedUsd: number };
    models: ModelQuotaView[];
  }> {
    const now = new Date();
    const models = [...new Set([...knownModels, ...Object.keys(this.settings.limits), ...(await this.store.models(now))])].sort();
    const spend = await dailySpend(this.dataSource.manager, now);
    const committed = committedUsd(spend);
    return {
      store: this.store.kind,
      dailySpendBudgetUsd: this.settings.dailySpendBudgetUsd ?? null,
      spentTodayUsd: committed,
      spend: { ...spend, committedUsd: committed },
      models: await Promise.all(models.map(async (model) => ({ model, limits: this.limitsOf(model), usage: await this.store.usage(model, now) }))),
    };
  }
}

/** The transaction lock that makes admissions against the spend budget take turns (any constant no other lock uses). */
const SPEND_BUDGET_LOCK_ID = 7_263_900_013;

/** What the spend budget is weighed against: billed for finished batches, the worst case for open ones. */
export function committedUsd(spend: DailySpend): number {
  return spend.settledUsd + spend.reservedUsd;
}
