import { type PriceTable, priceOf } from '#groq-batch';
import type { SubmissionQuota } from '../batch-assembler.js';
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

/** The assembler's view of quotas: counters from the store, limits and budgets from configuration. */
export class QuotaGuard implements SubmissionQuota {
  constructor(
    readonly store: QuotaStore,
    private readonly settings: QuotaSettings,
  ) {}

  limitsOf(model: string): ModelLimits {
    const own = this.settings.limits[model] ?? {};
    return { ...own, tokensPerDay: own.tokensPerDay ?? this.settings.dailyTokenBudget };
  }

  estimate(model: string, requestBodyChars: number, maxTokens: number): LineEstimate {
    return estimateLine(requestBodyChars, maxTokens, priceOf(this.settings.prices, model));
  }

  async admit(model: string, lines: readonly LineEstimate[]): Promise<Admission> {
    const now = new Date();
    const [usage, spent] = await Promise.all([this.store.usage(model, now), this.spentToday(now)]);
    return admitLines(model, lines, usage, spent, this.limitsOf(model), this.settings.dailySpendBudgetUsd);
  }

  async record(model: string, lines: readonly LineEstimate[]): Promise<void> {
    if (lines.length === 0) return;
    const tokens = lines.reduce((sum, l) => sum + l.tokens, 0);
    const spendMicroUsd = Math.ceil(lines.reduce((sum, l) => sum + l.costUsd, 0) * 1_000_000);
    await this.store.record(model, { requests: lines.length, tokens, spendMicroUsd });
  }

  /** Committed spend today across every model (the most the submitted lines can cost). */
  async spentToday(now = new Date()): Promise<number> {
    const models = await this.store.models(now);
    const usages = await Promise.all(models.map((m) => this.store.usage(m, now)));
    return usages.reduce((sum, u) => sum + u.day.spendMicroUsd, 0) / 1_000_000;
  }

  /** For the ops API: every configured or used model with its limits and today's counters. */
  async view(knownModels: readonly string[] = []): Promise<{ store: QuotaStore['kind']; dailySpendBudgetUsd: number | null; spentTodayUsd: number; models: ModelQuotaView[] }> {
    const now = new Date();
    const models = [...new Set([...knownModels, ...Object.keys(this.settings.limits), ...(await this.store.models(now))])].sort();
    return {
      store: this.store.kind,
      dailySpendBudgetUsd: this.settings.dailySpendBudgetUsd ?? null,
      spentTodayUsd: await this.spentToday(now),
      models: await Promise.all(models.map(async (model) => ({ model, limits: this.limitsOf(model), usage: await this.store.usage(model, now) }))),
    };
  }
}
