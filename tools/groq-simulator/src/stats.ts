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
}

export function emptyStats(): SimulatorStats {
  return { calls: {}, batchesCreated: 0, filesUploaded: 0, linesProcessed: {}, outcomes: {}, outcomeTotals: {}, deviations: {} };
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

  snapshot(): SimulatorStats {
    return structuredClone(this.current);
  }

  reset(): void {
    this.current = emptyStats();
  }
}
