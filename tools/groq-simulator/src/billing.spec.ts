import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type Groq from 'groq-sdk';
import { CHEAP_MODEL_PROFILE, type GroqSimulator, NO_FAULTS, startGroqSimulator } from './simulator.js';
import { CHEAP, createBatch, FALLBACK, groqClient, ids, outcomesById, parsedLines, pollUntilTerminal, requestLine, runBatchToEnd, toJsonl, uploadJsonl } from './testing/batch-fixtures.js';

/** The billed account: lines that generated tokens are billed even when they fail; lines that never ran are not. */
describe('the simulator bills like the provider', () => {
  let sim: GroqSimulator;
  let groq: Groq;
  const cheapPrice = { inputPerMillion: 0.0375, outputPerMillion: 0.15 };

  beforeAll(async () => {
    sim = await startGroqSimulator({ seed: 11 });
    groq = groqClient(sim.url);
  });
  afterAll(async () => {
    await sim.stop();
  });
  afterEach(() => {
    sim.setFaults({ ...NO_FAULTS });
    sim.setProfile(CHEAP, CHEAP_MODEL_PROFILE);
    sim.setSpeed({ linesPerSecond: null });
    sim.resetStats();
  });

  it('bills json_validate_failed lines (prompt + what was generated) although their error lines carry no usage', async () => {
    sim.setProfile(CHEAP, { failureRate: 1, jsonValidateShare: 1, serverErrorRate: 0 });
    const batch = await runBatchToEnd(groq, ids('jv', 5).map((id) => requestLine(id)));
    const lines = await parsedLines(groq, batch.error_file_id);
    expect(lines).toHaveLength(5);
    expect(lines.every((line) => !('usage' in (line.response?.body ?? {})))).toBe(true);
    const tally = sim.stats().billed.byBatch[batch.id]![CHEAP]!;
    expect(tally.lines).toBe(5);
    expect(tally.unreportedLines).toBe(5);
    expect(tally.promptTokens).toBeGreaterThan(5 * 50);
    // The content plus ~160 reasoning tokens per line.
    expect(tally.completionTokens).toBeGreaterThan(5 * 100);
    expect(tally.usd).toBeCloseTo((tally.promptTokens * cheapPrice.inputPerMillion + tally.completionTokens * cheapPrice.outputPerMillion) / 1e6, 12);
    expect(sim.stats().billed.totalUsd).toBeCloseTo(tally.usd, 12);
  });

  it('bills answered lines by the usage they report, and not lines refused before generating (5xx)', async () => {
    sim.setProfile(CHEAP, { failureRate: 0, serverErrorRate: 0.5 });
    const batch = await runBatchToEnd(groq, ids('ok', 40).map((id) => requestLine(id)));
    const seen = await outcomesById(groq, batch);
    let prompt = 0;
    let completion = 0;
    let answered = 0;
    for (const line of seen.values()) {
      const usage = (line.response?.body as { usage?: { prompt_tokens: number; completion_tokens: number } } | undefined)?.usage;
      if (line.response?.status_code === 200 && usage) {
        answered++;
        prompt += usage.prompt_tokens;
        completion += usage.completion_tokens;
      }
    }
    expect(answered).toBeGreaterThan(5);
    expect(answered).toBeLessThan(40);
    const tally = sim.stats().billed.byBatch[batch.id]![CHEAP]!;
    expect(tally).toMatchObject({ lines: answered, promptTokens: prompt, completionTokens: completion, unreportedLines: 0 });
  });

  it('bills dropped lines (in neither file) as unreported', async () => {
    sim.setProfile(CHEAP, { failureRate: 0, serverErrorRate: 0 });
    sim.setFaults({ missingRate: 0.3 });
    const sent = ids('drop', 60);
    const batch = await runBatchToEnd(groq, sent.map((id) => requestLine(id)));
    const missing = sent.filter((id) => sim.stats().outcomes[batch.id]![id] === 'missing');
    expect(missing.length).toBeGreaterThan(5);
    const tally = sim.stats().billed.byBatch[batch.id]![CHEAP]!;
    expect(tally.lines).toBe(60);
    expect(tally.unreportedLines).toBe(missing.length);
  });

  it('does not bill the lines of a cancelled batch that never ran', async () => {
    sim.setSpeed({ linesPerSecond: 200 });
    const created = await createBatch(groq, await uploadJsonl(groq, toJsonl(ids('cancel', 100).map((id) => requestLine(id, { model: FALLBACK })))));
    for (;;) {
      const counts = (await groq.batches.retrieve(created.id)).request_counts!;
      if (counts.completed + counts.failed >= 3) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await groq.batches.cancel(created.id);
    const batch = await pollUntilTerminal(groq, created.id);
    expect(batch.status).toBe('cancelled');
    const ran = batch.request_counts.completed + batch.request_counts.failed;
    expect(ran).toBeLessThan(100);
    const tally = sim.stats().billed.byBatch[batch.id]![FALLBACK]!;
    // Every line that ran answered (the fallback model does not fail on content), bar an occasional 5xx.
    expect(tally.lines).toBe(batch.request_counts.completed);
    expect(tally.lines).toBeLessThan(100);
  });

  it('exposes the account over GET /_sim/stats', async () => {
    await runBatchToEnd(groq, [requestLine('http-1')]);
    const stats = (await (await fetch(`${sim.url}/_sim/stats`)).json()) as { billed: { totalUsd: number; byModel: Record<string, { lines: number }> } };
    expect(stats.billed.byModel[CHEAP]!.lines).toBe(1);
    expect(stats.billed.totalUsd).toBeGreaterThan(0);
  });
});
