import { batchKeyTag } from '#anthropic-batch';
import { waitForConsumed } from '../support/consumption.js';
import { expectNothingLost, type FaultChain, FaultStack, type KillRecord, useScenario, SERVICES, seeded, sleep } from './harness.js';

/** One crash point per service (a process is killed once, then restarted without it): the four of every chain. */
const CRASH_POINTS: Record<string, string> = {
  'batch-submitter': 'submit:after-provider-create:2',
  poller: 'poll:after-download:2',
  'result-writer': 'merge:mid-write:2',
  'retry-service': 'retry:mid-write:2',
};

/**
 * The cross chain reaches Anthropic in its last pass, which the retry-service submits: there it is killed
 * after Anthropic's first create instead of mid retry write (covered by every other chain), while the
 * batch-submitter is killed after a Groq create.
 */
const CROSS_CRASH_POINTS: Record<string, string> = { ...CRASH_POINTS, 'retry-service': 'submit:after-provider-create@anthropic:1' };

/**
 * kill -9 at the worst moments (named crash points) and at random moments (seeded), each service
 * restarted as a supervisor would: nothing lost, nothing paid for twice, one result per id. The crash
 * points and one random-kill run go through each provider's API and a chain across all three.
 */
describe.each<FaultChain>(['groq', 'openai', 'anthropic', 'cross'])('fault suite: crashes on the %s chain', (chain) => {
  const scenario = useScenario();

  it('crash points: after provider create before our record, after download before publish, mid result write, mid retry write', async () => {
    const points = chain === 'cross' ? CROSS_CRASH_POINTS : CRASH_POINTS;
    const stack = (scenario.stack = await FaultStack.start({
      seed: 7,
      chain,
      databaseUrl: scenario.db.url,
      serviceEnv: Object.fromEntries(Object.entries(points).map(([service, point]) => [service, { CASCADE_CRASH_AT: point }])),
    }));
    if (chain === 'cross') {
      // Enough failures on the first two models that Anthropic gets batches of its own.
      stack.sims.groq!.setProfile('openai/gpt-oss-20b', { failureRate: 0.4, jsonValidateShare: 1, serverErrorRate: 0 });
      stack.sims.openai!.setProfile('gpt-4.1-mini', { failureRate: 0.3, serverErrorRate: 0, refusalRate: 0 });
    }
    const prs = stack.prs();
    await stack.publish(prs);
    await stack.settle(prs.length, 300_000);
    for (const point of Object.values(points).map((armed) => armed.replace(/:\d+$/, ''))) {
      expect({ point, crashes: stack.crashesAt(point) }).toEqual({ point, crashes: 1 });
    }
    expect(stack.restarts()).toBe(4);
    const summary = await stack.verify(prs.length);
    expectNothingLost(summary);
    // The batch created just before the crash was found by its key after the restart, not created again:
    // one provider batch per key, each recorded once.
    const [{ batches, keys }] = await scenario.db.dataSource.query(
      `SELECT count(*)::int AS batches, count(DISTINCT batch_key)::int AS keys FROM batches WHERE provider_batch_id IS NOT NULL`,
    );
    expect({ batches, keys, created: summary.batchesCreatedAtProvider }).toEqual({ batches, keys: batches, created: batches });
    const adopted = stack.logged('adopted the provider batch created before the interruption');
    expect(adopted.length).toBeGreaterThanOrEqual(1);
    if (chain === 'anthropic' || chain === 'cross') {
      // Anthropic batches carry no metadata: the adopted batch is the one whose results carry its key's tag.
      const anthropic = stack.sims.anthropic!.stats().outcomes;
      const adoptedOnAnthropic = [];
      for (const line of adopted) {
        const [row] = await scenario.db.dataSource.query(`SELECT batch_key, provider_batch_id FROM batches WHERE batch_id = $1`, [line.batchId]);
        expect(row.provider_batch_id).toBe(line.providerBatchId);
        if (!anthropic[line.providerBatchId as string]) continue;
        const tags = new Set(Object.keys(anthropic[line.providerBatchId as string]!).map((customId) => customId.slice(0, 16)));
        expect([...tags]).toEqual([batchKeyTag(row.batch_key)]);
        adoptedOnAnthropic.push(line.providerBatchId);
      }
      expect(adoptedOnAnthropic.length).toBeGreaterThanOrEqual(1);
    }
  }, 420_000);

  // The outbox runs after every provider call, the same code whatever the provider: run on Groq only.
  if (chain === 'groq') it('crash point: after the outbox sent its events but before marking them sent, in every service', async () => {
    const stack = (scenario.stack = await FaultStack.start({
      seed: 8,
      databaseUrl: scenario.db.url,
      serviceEnv: Object.fromEntries(SERVICES.map((name) => [name, { CASCADE_CRASH_AT: 'outbox:after-send:3' }])),
    }));
    const prs = stack.prs();
    await stack.publish(prs);
    await stack.settle(prs.length, 300_000);
    expect(stack.crashesAt('outbox:after-send')).toBeGreaterThanOrEqual(3);
    expectNothingLost(await stack.verify(prs.length));
  }, 420_000);

  // Three seeds on Groq, one on each other chain (CI time): the kills hit the services, not the provider.
  const seeds = (process.env.CASCADE_FAULT_SEEDS ?? '101,202,303').split(',').map(Number);
  it.each(chain === 'groq' ? seeds : seeds.slice(0, 1))('random kill -9 of random services during the run, seed %i', async (seed) => {
    const stack = (scenario.stack = await FaultStack.start({ seed, chain, databaseUrl: scenario.db.url }));
    const random = seeded(seed);
    const prs = stack.prs();
    const publishing = stack.publish(prs);
    const terminal = async () =>
      Number((await scenario.db.dataSource.query(`SELECT count(*)::int AS n FROM requests WHERE status IN ('succeeded', 'failed', 'excluded')`))[0].n);
    const kills: Array<KillRecord & { openAtKill: number }> = [];
    for (let i = 0; i < 4; i++) {
      await sleep(1_500 + random() * 3_500);
      const name = SERVICES[Math.floor(random() * SERVICES.length)]!;
      const openAtKill = prs.length - (await terminal());
      kills.push({ ...(await stack.kill(`${name}#0`, { restartAfterMs: 300 + Math.floor(random() * 1_500) })), openAtKill });
    }
    await publishing;
    await stack.settle(prs.length, 300_000);
    // Each kill hit a running process (it died of the SIGKILL, not earlier of something else) and another took its place.
    expect(kills.map((k) => ({ key: k.key, wasRunning: k.wasRunning, signal: k.signal, replaced: k.restartedPid !== null && k.restartedPid !== k.pid }))).toEqual(
      kills.map((k) => ({ key: k.key, wasRunning: true, signal: 'SIGKILL', replaced: true })),
    );
    // The first kill hit the pipeline at work, with requests still open.
    expect(kills[0]!.openAtKill).toBeGreaterThan(0);
    const killed = [...new Set(kills.map((k) => k.key))];
    for (const key of killed) {
      const current = stack.processes.get(key)!;
      // Restarted once per kill, still running, ready again, and its consumer group read its topics to the end.
      expect({ key, restarts: current.restarts, exitCode: current.child.exitCode }).toEqual({ key, restarts: kills.filter((k) => k.key === key).length, exitCode: null });
      await stack.waitReady(current, 30_000);
      await waitForConsumed(stack.groupOf(current.name), undefined, 30_000);
    }
    expectNothingLost(await stack.verify(prs.length));
  }, 420_000);
});
