import { expectNothingLost, type FaultChain, FaultStack, OPS_TOKEN, perProvider, PROVIDER_ROUTES, providersOfChain, sleep, useScenario } from './harness.js';

/** PRs per scenario: enough for several batches per pass, few enough that slow provider calls stay bearable. */
const PRS = Number(process.env.CASCADE_SUBMISSION_FAULT_PRS ?? 300);

/**
 * Never pay twice, never park a batch. Each scenario ends with: every id terminal and recorded once, no id
 * run more often than its attempts, and after `cascade reconcile --provider` no provider batch with our key
 * unknown to the database, reconcile exiting 0.
 */
describe.each<FaultChain>(['groq', 'openai', 'anthropic', 'cross'])('fault suite: submission and poll leases on the %s chain', (chain) => {
  const scenario = useScenario();

  const recordedBatches = async () => Number((await scenario.db.dataSource.query(`SELECT count(*)::int AS n FROM batches WHERE provider_batch_id IS NOT NULL`))[0].n);

  /** The sweep of every provider of the chain finds nothing unknown (each provider batch recorded or kept as a stray) and reconcile passes. */
  async function expectSweptClean(stack: FaultStack): Promise<void> {
    const { status, report, stderr } = await stack.sweep();
    expect(report).not.toBeNull();
    expect({ unknown: report!.provider!.unknown, refused: report!.provider!.cancelsRetried.filter((c) => c.outcome === 'cancel_failed') }).toEqual({ unknown: [], refused: [] });
    expect({ status, stderr: status === 0 ? '' : stderr }).toEqual({ status: 0, stderr: '' });
  }

  /** Creates the provider answered, or dropped, across the stack's simulators. */
  const creates = (stack: FaultStack) => stack.simulators().reduce((sum, sim) => sum + (sim.stats().calls[PROVIDER_ROUTES[sim.provider].create] ?? 0), 0);

  // The submit lease is the same code for every provider; its create path is not on Anthropic (inline requests
  // spooled on the submitter's disk, which the replica taking a batch over does not have): Groq and Anthropic,
  // Groq only in CI (time), where Anthropic's takeover by a replica without the spool is run by the replicas
  // scenario and test/pipeline/anthropic-recovery.int-spec.ts.
  const slowCreateChains: FaultChain[] = process.env.CI ? ['groq'] : ['groq', 'anthropic'];
  if (slowCreateChains.includes(chain)) it('two replicas, every provider call slower than the submit lease, an operator retrying each batch while it is created: one provider batch per key', async () => {
    const stack = (scenario.stack = await FaultStack.start({
      seed: 41,
      chain,
      databaseUrl: scenario.db.url,
      replicas: 2,
      env: { SUBMIT_LEASE_MS: '1500', ...perProvider(chain, { TIMEOUT_MS: '10000' }), BATCH_MAX_LINES: '100' },
    }));
    for (const sim of Object.values(stack.sims)) sim.setFaults({ responseDelayMs: 2_500 });
    const prs = stack.prs(PRS);
    await stack.publish(prs);
    // POST /batches/{id}/retry on every batch being created: refused while its submitter holds the lease.
    const poller = stack.processes.get('poller#0')!;
    const answers = new Map<string, number>();
    const deadline = Date.now() + 120_000;
    while (answers.size < 3 && Date.now() < deadline) {
      const creating = (await scenario.db.dataSource.query(`SELECT batch_id FROM batches WHERE state = 'creating' AND lease_until > now()`)) as Array<{ batch_id: string }>;
      for (const { batch_id } of creating.filter((b) => !answers.has(b.batch_id))) {
        const response = await fetch(`http://127.0.0.1:${poller.port}/batches/${batch_id}/retry`, { method: 'POST', headers: { authorization: `Bearer ${OPS_TOKEN}` } });
        answers.set(batch_id, response.status);
      }
      await sleep(200);
    }
    // A batch may finish its create between the query and the call (then it is polled now: 201); none is resumed under its creator.
    expect([...answers.values()].filter((status) => status === 409).length).toBeGreaterThan(0);
    await stack.settle(prs.length, 480_000);
    const summary = await stack.verify(prs.length);
    expectNothingLost(summary);
    // Each provider batch is a batch of ours: none was created twice for one key.
    const batches = await recordedBatches();
    expect(summary.batchesCreatedAtProvider).toBe(batches);
    await expectSweptClean(stack);
    console.log(`slow creates, two replicas: ${batches} batches, ${summary.batchesCreatedAtProvider} created at the provider; retries during a create: ${[...answers.values()].join(', ')}`);
  }, 900_000);

  it('creates answered with 500 after the provider did the work, create answers dropped, and a listing that shows new batches late: each is adopted, none created twice', async () => {
    const stack = (scenario.stack = await FaultStack.start({
      seed: 42,
      chain,
      databaseUrl: scenario.db.url,
      // Six first-pass batches at least: creates after the five faulty ones whatever fails (on Anthropic, with
      // structured outputs, a later pass is not certain for 300 PRs).
      env: { ...perProvider(chain, { LIST_SETTLE_MS: '6000' }), BATCH_MAX_LINES: '50' },
    }));
    // On each provider of the chain: its first 3 creates answered 500 after the work, the next 2 dropped unanswered.
    for (const sim of Object.values(stack.sims)) sim.setFaults({ createErrorsAfterWorkFirst: 3, dropCreateResponses: 2, listDelayMs: 2_000 });
    // Anthropic's own quirk: a batch just created is not found (404) by retrieve and results for a while.
    stack.sims.anthropic?.setFaults({ notFoundAfterCreateMs: 1_500 });
    const prs = stack.prs(PRS);
    await stack.publish(prs);
    await stack.settle(prs.length, 480_000);
    const summary = await stack.verify(prs.length);
    expectNothingLost(summary);
    const batches = await recordedBatches();
    // More creates than the five answered badly on the first provider, and not one of them repeated: each of those was found by its key.
    expect(batches).toBeGreaterThan(5);
    expect({ creates: creates(stack), created: summary.batchesCreatedAtProvider }).toEqual({ creates: batches, created: batches });
    const first = stack.sims[providersOfChain(chain)[0]!]!;
    expect(first.faults()).toMatchObject({ createErrorsAfterWorkFirst: 3, dropCreateResponses: 0 });
    await expectSweptClean(stack);
    const lists = stack.simulators().reduce((sum, sim) => sum + (sim.stats().calls[PROVIDER_ROUTES[sim.provider].list] ?? 0), 0);
    console.log(`${chain}: 500 after create, dropped answers, late listing: ${batches} batches, ${creates(stack)} creates, ${lists} list calls`);
  }, 900_000);

  // The poll lease is the same code whatever the provider answers: run on Groq only.
  if (chain === 'groq') it('a poller killed while it holds a batch: the batch is polled again within a minute of its death', async () => {
    const stack = (scenario.stack = await FaultStack.start({
      seed: 43,
      databaseUrl: scenario.db.url,
      // The default poll lease: a dead holder's batch must come back within a minute.
      env: { POLL_LEASE_MS: '30000' },
    }));
    // Every provider call takes 3 s: a poller holds a batch's lease for that long on each poll.
    stack.sim.setFaults({ responseDelayMs: 3_000 });
    const prs = stack.prs(PRS);
    await stack.publish(prs);
    const held = async () =>
      (await scenario.db.dataSource.query(
        `SELECT batch_id, lease_owner, poll_count FROM batches WHERE state = 'submitted' AND lease_until > now() AND lease_owner IS NOT NULL LIMIT 1`,
      ))[0] as { batch_id: string; lease_owner: string; poll_count: number } | undefined;
    let victim: Awaited<ReturnType<typeof held>>;
    const deadline = Date.now() + 120_000;
    while (!(victim = await held()) && Date.now() < deadline) await sleep(50);
    expect(victim).toBeDefined();
    const killedAt = Date.now();
    await stack.kill('poller#0', { restartAfterMs: 0 });
    stack.sim.setFaults({ responseDelayMs: 0 });
    // Polled again (its poll count moves, or it finished) by the restarted poller once the dead holder's lease ran out.
    let repolledAfterMs = Number.POSITIVE_INFINITY;
    while (Date.now() - killedAt < 90_000) {
      const [row] = await scenario.db.dataSource.query(`SELECT state, poll_count, lease_owner FROM batches WHERE batch_id = $1`, [victim!.batch_id]);
      if (row.state === 'finished' || (row.poll_count > victim!.poll_count && row.lease_owner !== victim!.lease_owner)) {
        repolledAfterMs = Date.now() - killedAt;
        break;
      }
      await sleep(250);
    }
    expect(repolledAfterMs).toBeLessThan(60_000);
    console.log(`dead poller: batch ${victim!.batch_id} polled again ${repolledAfterMs} ms after its holder was killed`);
    stack.sim.setFaults({ responseDelayMs: 0 });
    await stack.settle(prs.length, 480_000);
    expectNothingLost(await stack.verify(prs.length));
    await expectSweptClean(stack);
  }, 900_000);
});
