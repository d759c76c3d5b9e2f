import type { TableFigures } from './measure.js';

/**
 * A run's totals divided by its size, so that runs of 10,000 and 100,000 PRs compare: when the work scales
 * linearly, every figure here stays flat.
 */
export interface ScaleFigures {
  prs: number;
  /** Wall time of the pipeline (first publish → every id terminal) per 1,000 PRs. */
  secondsPer1kPrs: number;
  /** CPU seconds each service spent from the first publish to the end of the run, per 1,000 PRs. */
  cpuSecondsPer1kPrs: Record<string, number>;
  /** Sum of the tables' `pg_total_relation_size` after the run, per PR. */
  bytesPerPr: number;
  bytesPerPrByTable: Record<string, number>;
  /** The same once the tables were rewritten without dead row versions (`VACUUM FULL`). */
  compactedBytesPerPr: number;
  compactedBytesPerPrByTable: Record<string, number>;
  /** Rows inserted + updated + deleted in all tables, per PR. */
  rowWritesPerPr: number;
}

export function perThousand(total: number, prs: number): number {
  return (total / prs) * 1000;
}

/** CPU seconds of each service between two readings; a service missing from either reading has none. */
export function cpuBetween(before: Record<string, { cpuSeconds: number } | null>, after: Record<string, { cpuSeconds: number } | null>): Record<string, number> {
  const spent: Record<string, number> = {};
  for (const [name, end] of Object.entries(after)) {
    const start = before[name];
    if (end && start) spent[name] = end.cpuSeconds - start.cpuSeconds;
  }
  return spent;
}

/**
 * CPU seconds a set of processes spent between two readings keyed by pid: a process first read in `latest` counts
 * from zero (it started in between); one read lower than before is a reused pid, counted from zero too.
 */
export function cpuSpent(baseline: Map<number, number>, latest: Map<number, number>): number {
  let spent = 0;
  for (const [pid, seconds] of latest) {
    const before = baseline.get(pid) ?? 0;
    spent += seconds >= before ? seconds - before : seconds;
  }
  return spent;
}

export function scaleFigures(run: {
  prs: number;
  pipelineMs: number;
  cpuSeconds: Record<string, number>;
  tables: TableFigures[];
  compactedTables: TableFigures[];
}): ScaleFigures {
  const { prs } = run;
  if (!Number.isInteger(prs) || prs < 1) throw new Error(`a run of ${prs} PRs has no per-PR figures`);
  const bytesPerPr = (tables: TableFigures[]) => tables.reduce((sum, t) => sum + t.bytes, 0) / prs;
  const byTable = (tables: TableFigures[]) => Object.fromEntries(tables.map((t) => [t.table, t.bytes / prs]));
  const writes = run.tables.reduce((sum, t) => sum + t.inserted + t.updated + t.deleted, 0);
  return {
    prs,
    secondsPer1kPrs: perThousand(run.pipelineMs / 1000, prs),
    cpuSecondsPer1kPrs: Object.fromEntries(Object.entries(run.cpuSeconds).map(([name, seconds]) => [name, perThousand(seconds, prs)])),
    bytesPerPr: bytesPerPr(run.tables),
    bytesPerPrByTable: byTable(run.tables),
    compactedBytesPerPr: bytesPerPr(run.compactedTables),
    compactedBytesPerPrByTable: byTable(run.compactedTables),
    rowWritesPerPr: writes / prs,
  };
}
