import { createEvent, type PrIngestedPayload, Topic } from '#contracts';
import type { ReconcileReport } from '#ledger';
import pg from 'pg';
import { CHEAP_MODEL_PROFILE } from '../../tools/groq-simulator/src/options.js';
import { eventually } from '../support/infra.js';
import { FaultStack, FAULT_PRS, useScenario } from './harness.js';

const CHEAP = 'openai/gpt-oss-20b';
/** At least the 2,000 PRs the ledger's promise is checked on, in CI too. */
const PRS = Math.max(FAULT_PRS, 2_000);

type Reconciled = ReconcileReport & { topics: { terminalEvents: { distinctIds: number; missing: unknown[] }; notYetIngested: number } };

/**
 * `npm run verify:ledger`: the ledger's promise end to end. 2,000 PRs through an unreliable provider
 * (json_validate_failed lines billed without usage, dropped, broken and shuffled lines, 5xx, a lost create
 * response, repeated list items and empty summaries), services killed mid-run, input that passes the
 * contract only once normalised and input that does not, an edited PR synced twice, then a replay at the
 * same prompt version and one at a new version. Then: nothing lost, nothing stranded, every dead letter
 * accounted, one terminal event per id, the report's cost within 3 % of what the provider billed, and no
 * answer rejected for a rule the schema sent did not state.
 */
describe('the ledger tells the truth', () => {
  const scenario = useScenario();

  it(`${PRS} PRs through provider faults, kills, bad input, edited copies and two replays: every id and every cent accounted`, async () => {
    const stack = (scenario.stack = await FaultStack.start({
      seed: 71,
      databaseUrl: scenario.db.url,
      simulator: {
        faults: {
          shuffle: true,
          missingRate: 0.01,
          malformedRate: 0.005,
          rateLimitFirst: 0,
          rateLimitRoute: null,
          rateLimitRetryAfterMs: 0,
          downloadErrorsFirst: 2,
          serverErrorsFirst: 3,
          responseDelayMs: 0,
          expireAfterFraction: null,
          unfinishedInErrorFile: false,
          failValidation: false,
          dropCreateResponses: 1,
          createErrorsAfterWorkFirst: 0,
          listDelayMs: 0,
        },
        profiles: { [CHEAP]: { ...CHEAP_MODEL_PROFILE, failureRate: 0.08 } },
      },
    }));
    const db = new pg.Client({ connectionString: scenario.db.url });
    await db.connect();
    const count = async (sql: string, params: unknown[] = []) => Number((await db.query(sql, params)).rows[0].n);
    try {
      const prs = stack.prs(PRS);
      const base = prs[0]!;
      // Valid once normalised: stored and analysed, never dead-lettered.
      const normalised: PrIngestedPayload[] = [
        { ...base, requestId: 'ledger/nul-team', team: 'pay\u0000ments' },
        { ...base, requestId: 'ledger/lone-surrogate', title: 'fix: \uD800 half a pair', body: 'Body with a lone \uDC00 surrogate' },
      ];
      // Refused after the request id was read: dead-lettered with a reason, counted, never lost.
      const event = (payload: unknown) => JSON.stringify(createEvent(Topic.PrIngested, payload as PrIngestedPayload, { correlationId: 'ledger', producer: 'fault-suite' }));
      const refused = [
        { key: 'ledger/huge-number', value: event({ ...base, requestId: 'ledger/huge-number', prNumber: 3_000_000_000 }) },
        { key: 'ledger/year-zero', value: event({ ...base, requestId: 'ledger/year-zero', createdAt: '0000-01-01T00:00:00.000Z' }) },
        { key: 'ledger/unknown-prompt', value: event({ ...base, requestId: 'ledger/unknown-prompt', promptVersion: 'pr-analysis-v9' }) },
      ];
      const half = Math.floor(prs.length / 2);
      await stack.publish([...prs.slice(0, half), ...normalised], refused);
      await eventually('work in flight', async () => (await count(`SELECT count(*)::int AS n FROM batches`)) > 2, 120_000);
      await stack.kill('poller#0', { restartAfterMs: 500 });
      await stack.kill('result-writer#0', { restartAfterMs: 500 });
      // The second half, and edited PRs synced a second time with other text (differing copies of one id).
      const edited = prs.slice(0, 20).map((pr) => ({ ...pr, body: `${pr.body}\n\nEdited after the first sync.` }));
      await stack.publish([...prs.slice(half), ...edited]);
      const ids = prs.length + normalised.length;
      const first = await stack.settle(ids + refused.length, 900_000);
      expect(first.deadLettered).toBe(refused.length);

      // A replay at the same version: no provider call, nothing in flight, the topic of record untouched.
      const batchesBefore = stack.sim.stats().batchesCreated;
      const same = stack.cli('replay', '--from', 'earliest');
      expect(same.status).toBe(0);
      const refed = Number(/replayed (\d+) PR events/.exec(same.stdout)?.[1]);
      expect(refed).toBe(ids + 1); // the distinct readable ids: the unknown prompt version's is re-fed (and refused again)
      const replayedTopic = `${stack.prefix}${Topic.PrReplayed}`;
      await eventually('the same-version replay consumed', async () => {
        const processed = await count(`SELECT count(*)::int AS n FROM processed_events WHERE topic = $1`, [replayedTopic]);
        const refusedAgain = await count(`SELECT count(*)::int AS n FROM dead_letters WHERE topic = $1`, [replayedTopic]);
        return processed + refusedAgain >= refed;
      }, 300_000);
      expect(stack.sim.stats().batchesCreated).toBe(batchesBefore);
      expect(await count(`SELECT count(*)::int AS n FROM requests WHERE status IN ('pending', 'in_flight')`)).toBe(0);

      // A replay at a new version: every id analysed again under that version's prompt, both kept.
      const v2 = stack.cli('replay', '--from', 'earliest', '--prompt-version', 'pr-analysis-v2');
      expect(v2.status).toBe(0);
      await stack.settle(2 * ids + 1 + refused.length, 900_000);

      const summary = await stack.verify(2 * ids + 1, { deadLettered: refused.length });
      const { status, stdout } = stack.cli('reconcile', '--json', '--deadline-ms', '600000');
      const reconciled = JSON.parse(stdout) as Reconciled;
      const requests = await count(`SELECT count(*)::int AS n FROM requests`);
      const rejectedForUnstatedRules = await count(`SELECT count(*)::int AS n FROM attempts WHERE code = 'schema_invalid'`);
      const deviations = Object.values(stack.sim.stats().deviations).reduce((a, b) => a + b, 0);
      const report = JSON.parse(stack.cli('report', '--format', 'json').stdout) as { run: { cost: { totalUsd: number; estimatedUsd: number } } };
      const billed = stack.sim.stats().billed.totalUsd;
      const figures = {
        prs: PRS,
        ids: requests,
        lost: reconciled.lost.length,
        stranded: reconciled.stranded,
        stuck: reconciled.stuck,
        deadLettered: reconciled.deadLettered,
        terminalEventIds: reconciled.topics.terminalEvents.distinctIds,
        providerBatches: summary.providerBatches,
        reportTotalUsd: report.run.cost.totalUsd,
        billedUsd: billed,
        reportOverBilled: report.run.cost.totalUsd / billed,
        estimatedUsd: report.run.cost.estimatedUsd,
        harmlessDeviations: deviations,
        rejectedForUnstatedRules,
      };
      process.stdout.write(`\nledger verification\n${Object.entries(figures).map(([k, v]) => `  ${k.padEnd(26)} ${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(6) : v}`).join('\n')}\n`);

      expect(status).toBe(0);
      expect(reconciled).toMatchObject({ lost: [], stranded: 0, stuck: 0, inFlight: 0, invariantHolds: true, deadLettered: refused.length });
      expect(reconciled.checks.every((check) => check.ok)).toBe(true);
      expect(reconciled.topics.terminalEvents.missing).toEqual([]);
      expect(reconciled.topics.terminalEvents.distinctIds).toBe(requests);
      expect(summary).toMatchObject({ unrecordedProviderBatches: [], overSent: [] });
      expect(summary.batchesCreatedAtProvider).toBe(summary.providerBatches);
      expect(Math.abs(figures.reportOverBilled - 1)).toBeLessThan(0.03);
      expect(deviations).toBeGreaterThan(0);
      expect(rejectedForUnstatedRules).toBe(0);
    } finally {
      await db.end();
    }
  }, 2_400_000);
});
