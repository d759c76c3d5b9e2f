import { waitForConsumed } from '../support/consumption.js';
import { expectNothingLost, FaultStack, type KillRecord, useScenario, SERVICES, seeded, sleep } from './harness.js';

/**
 * kill -9 at the worst moments (named crash points) and at random moments (seeded), each service
 * restarted as a supervisor would: nothing lost, nothing paid for twice, one result per id.
 */
describe('fault suite: crashes', () => {
  const scenario = useScenario();

  it('crash points: after provider create before our record, after download before publish, mid result write, mid retry write', async () => {
    const stack = (scenario.stack = await FaultStack.start({
      seed: 7,
      databaseUrl: scenario.db.url,
      serviceEnv: {
        'batch-submitter': { CASCADE_CRASH_AT: 'submit:after-provider-create:2' },
        poller: { CASCADE_CRASH_AT: 'poll:after-download:2' },
        'result-writer': { CASCADE_CRASH_AT: 'merge:mid-write:2' },
        'retry-service': { CASCADE_CRASH_AT: 'retry:mid-write:2' },
      },
    }));
    const prs = stack.prs();
    await stack.publish(prs);
    await stack.settle(prs.length, 300_000);
    for (const point of ['submit:after-provider-create', 'poll:after-download', 'merge:mid-write', 'retry:mid-write']) {
      expect({ point, crashes: stack.crashesAt(point) }).toEqual({ point, crashes: 1 });
    }
    expect(stack.restarts()).toBe(4);
    expectNothingLost(await stack.verify(prs.length));
  }, 420_000);

  it('crash point: after the outbox sent its events but before marking them sent, in every service', async () => {
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

  const seeds = (process.env.CASCADE_FAULT_SEEDS ?? '101,202,303').split(',').map(Number);
  it.each(seeds)('random kill -9 of random services during the run, seed %i', async (seed) => {
    const stack = (scenario.stack = await FaultStack.start({ seed, databaseUrl: scenario.db.url }));
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
