import type { TableFigures } from './measure.js';
import { cpuBetween, cpuSpent, perThousand, scaleFigures } from './scale.js';

const table = (name: string, bytes: number, writes: Partial<TableFigures> = {}): TableFigures => ({
  table: name,
  rows: 0,
  bytes,
  inserted: 0,
  updated: 0,
  deleted: 0,
  ...writes,
});

describe('per-PR figures of a bench run', () => {
  it('divides totals per 1,000 PRs', () => {
    expect(perThousand(140.2, 100_000)).toBeCloseTo(1.402, 10);
    expect(perThousand(23.4, 10_000)).toBeCloseTo(2.34, 10);
  });

  it('takes the CPU a service spent between two readings, skipping a service missing from either', () => {
    const before = { poller: { cpuSeconds: 2.5 }, 'result-writer': { cpuSeconds: 1 }, 'retry-service': null };
    const after = { poller: { cpuSeconds: 24.8 }, 'result-writer': { cpuSeconds: 13.6 }, 'retry-service': { cpuSeconds: 9 }, 'batch-submitter': null };
    const spent = cpuBetween(before, after);
    expect(Object.keys(spent).sort()).toEqual(['poller', 'result-writer']);
    expect(spent.poller).toBeCloseTo(22.3, 10);
    expect(spent['result-writer']).toBeCloseTo(12.6, 10);
  });

  it('sums the CPU of processes by pid, counting one that started in between or reused a pid from zero', () => {
    const baseline = new Map([
      [101, 5],
      [102, 7],
      [103, 9],
    ]);
    const latest = new Map([
      [101, 6.5], // ran throughout: 1.5
      [103, 2], // lower than before: a new backend under a reused pid, 2
      [104, 0.25], // started in between: 0.25
    ]);
    expect(cpuSpent(baseline, latest)).toBeCloseTo(3.75, 10);
  });

  it('gives time and CPU per 1,000 PRs and bytes and row writes per PR', () => {
    const figures = scaleFigures({
      prs: 10_000,
      pipelineMs: 25_000,
      cpuSeconds: { poller: 4, 'batch-submitter': 6 },
      tables: [table('requests', 30_000_000, { inserted: 10_000, updated: 30_000 }), table('outbox', 2_000_000, { inserted: 500, deleted: 100 })],
      compactedTables: [table('requests', 14_000_000), table('outbox', 1_000_000)],
    });
    expect(figures.secondsPer1kPrs).toBe(2.5);
    expect(figures.cpuSecondsPer1kPrs).toEqual({ poller: 0.4, 'batch-submitter': 0.6 });
    expect(figures.bytesPerPr).toBe(3_200);
    expect(figures.bytesPerPrByTable).toEqual({ requests: 3_000, outbox: 200 });
    expect(figures.compactedBytesPerPr).toBe(1_500);
    expect(figures.compactedBytesPerPrByTable).toEqual({ requests: 1_400, outbox: 100 });
    expect(figures.rowWritesPerPr).toBeCloseTo(4.06, 10);
  });

  it('refuses a run without PRs rather than print infinities', () => {
    expect(() => scaleFigures({ prs: 0, pipelineMs: 1, cpuSeconds: {}, tables: [], compactedTables: [] })).toThrow('a run of 0 PRs');
  });
});
