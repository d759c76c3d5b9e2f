export interface SimulatorStats {
  /** HTTP calls per route, e.g. `POST /openai/v1/batches`, `GET /openai/v1/files/{id}/content`. */
  calls: Record<string, number>;
  batchesCreated: number;
  filesUploaded: number;
  /** Lines run per model (unfinished lines of expired or cancelled batches are not run). */
  linesProcessed: Record<string, number>;
  /**
   * Per batch, custom_id → outcome: `ok`, the line's error code, `schema_violation`, `finish_reason_length`,
   * `missing` / `malformed` (fault), or `batch_expired` / `batch_cancelled` for lines never run.
   */
  outcomes: Record<string, Record<string, string>>;
  /** Outcome → count over every batch. */
  outcomeTotals: Record<string, number>;
  /** Valid answers written with a harmless deviation (`repeated_item`, `empty_summary`) → count; their outcome stays `ok`. */
  deviations: Record<string, number>;
  /** What the provider bills, as this simulator bills it (see the README's billing rule). */
  billed: BilledAccount;
}

/** Billed lines and tokens on one model, priced at the configured batch prices. */
export interface BilledTally {
  lines: number;
  promptTokens: number;
  completionTokens: number;
  usd: number;
  /** Of those, the billed lines whose usage the files do not show: error lines, dropped lines, lines cut short. */
  unreportedLines: number;
  unreportedPromptTokens: number;
  unreportedCompletionTokens: number;
  unreportedUsd: number;
}

export interface BilledAccount {
  totalUsd: number;
  /** model → tally over every batch. */
  byModel: Record<string, BilledTally>;
  /** batch id → model → tally. */
  byBatch: Record<string, Record<string, BilledTally>>;
  /** Billed tokens on models without a configured price (counted, priced at 0). */
  unpricedModels: string[];
}

export interface ModelPrice {
  inputPerMillion: number;
  outputPerMillion: number;
}

export function emptyStats(): SimulatorStats {
  return {
    calls: {},
    batchesCreated: 0,
    filesUploaded: 0,
    linesProcessed: {},
    outcomes: {},
    outcomeTotals: {},
    deviations: {},
    billed: { totalUsd: 0, byModel: {}, byBatch: {}, unpricedModels: [] },
  };
}

const emptyTally = (): BilledTally => ({
  lines: 0,
  promptTokens: 0,
  completionTokens: 0,
  usd: 0,
  unreportedLines: 0,
  unreportedPromptTokens: 0,
  unreportedCompletionTokens: 0,
  unreportedUsd: 0,
});

function addToTally(tally: BilledTally, tokens: { promptTokens: number; completionTokens: number }, usd: number, unreported: boolean): void {
  tally.lines++;
  tally.promptTokens += tokens.promptTokens;
  tally.completionTokens += tokens.completionTokens;
  tally.usd += usd;
  if (unreported) {
    tally.unreportedLines++;
    tally.unreportedPromptTokens += tokens.promptTokens;
    tally.unreportedCompletionTokens += tokens.completionTokens;
    tally.unreportedUsd += usd;
  }
}

const bump = (counts: Record<string, number>, key: string, by = 1) => {
  counts[key] = (counts[key] ?? 0) + by;
};

/** Counters for tests; replaced wholesale on reset, so a batch still running writes into the new set. */
export class StatsRecorder {
  private current = emptyStats();

  call(route: string): void {
    bump(this.current.calls, route);
  }

  batchCreated(): void {
    this.current.batchesCreated++;
  }

  fileUploaded(): void {
    this.current.filesUploaded++;
  }

  lineProcessed(model: string): void {
    bump(this.current.linesProcessed, model);
  }

  outcome(batchId: string, customId: string, outcome: string): void {
    const batch = (this.current.outcomes[batchId] ??= {});
    const earlier = batch[customId];
    if (earlier !== undefined) bump(this.current.outcomeTotals, earlier, -1);
    batch[customId] = outcome;
    bump(this.current.outcomeTotals, outcome);
  }

  deviation(kind: string): void {
    bump(this.current.deviations, kind);
  }

  /** One billed line: `unreported` when the files do not show its usage (an error line, a dropped or cut line). */
  billed(
    batchId: string,
    model: string,
    tokens: { promptTokens: number; completionTokens: number },
    price: ModelPrice | undefined,
    unreported: boolean,
  ): void {
    const account = this.current.billed;
    const usd = price ? (tokens.promptTokens * price.inputPerMillion + tokens.completionTokens * price.outputPerMillion) / 1_000_000 : 0;
    if (!price && !account.unpricedModels.includes(model)) account.unpricedModels.push(model);
    addToTally((account.byModel[model] ??= emptyTally()), tokens, usd, unreported);
    addToTally(((account.byBatch[batchId] ??= {})[model] ??= emptyTally()), tokens, usd, unreported);
    account.totalUsd += usd;
  }

  snapshot(): SimulatorStats {
    return structuredClone(this.current);
  }

  reset(): void {
    this.current = emptyStats();
  }
}
