import { createEvent, type PrIngestedPayload, Topic } from '#contracts';
import { promptRegistry } from '#groq-batch';
import Groq from 'groq-sdk';
import { Partitioners, type Producer } from 'kafkajs';
import { syntheticPrs } from '../../apps/cli/src/demo/synthetic-prs.js';
import { CHEAP_MODEL_PROFILE } from '../../tools/groq-simulator/src/options.js';
import { type GroqSimulator, startGroqSimulator } from '../../tools/groq-simulator/src/simulator.js';
import { createTestDatabase, eventually, type TestDatabase, testKafka, uniqueSuffix } from '../support/infra.js';
import { type Pipeline, pipelineEnv, startPipeline } from '../support/pipeline.js';

const prefix = `prompts${uniqueSuffix()}.`;
process.env.KAFKA_TOPIC_PREFIX = prefix;

const CHEAP = 'openai/gpt-oss-20b';

/** Prompt versions and the one-schema rule through the whole pipeline (real broker, PostgreSQL, simulator). */
describe('prompt versions and harmless deviations, end to end', () => {
  let db: TestDatabase;
  let sim: GroqSimulator;
  let pipeline: Pipeline;
  let producer: Producer;

  beforeAll(async () => {
    db = await createTestDatabase();
    sim = await startGroqSimulator({ seed: 23 });
    // Every answer with a tool names it twice, and about half have an empty summary; nothing else goes wrong.
    sim.setProfile(CHEAP, { ...CHEAP_MODEL_PROFILE, failureRate: 0, serverErrorRate: 0, repeatedItemRate: 1, emptySummaryRate: 0.5 });
    // The test reads the input files the provider received once the batches are recorded: refuse their deletion
    // (429 with a retry-after beyond the client's bound, so the poller gives up on each at once).
    sim.setFaults({ rateLimitFirst: Number.MAX_SAFE_INTEGER, rateLimitRoute: 'DELETE /openai/v1/files/{id}', rateLimitRetryAfterMs: 600_000 });
    pipeline = await startPipeline(pipelineEnv({ prefix, databaseUrl: db.url, groqUrl: sim.url }));
    producer = testKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await pipeline?.stop();
    await sim?.stop();
    await db?.drop();
  });

  it('accepts and flags repeated tools and empty summaries (no schema_invalid, no retry), and sends pr-analysis-v2 with its own prompt', async () => {
    const marked = (pr: PrIngestedPayload, i: number): PrIngestedPayload => ({
      ...pr,
      requestId: `pv-${i}`,
      body: `${pr.body.trim() || 'Adds a retry.'}\n\n🤖 Generated with [Claude Code](https://claude.com/claude-code)`,
    });
    const prs = syntheticPrs({ count: 30, seed: 7 }).map(marked);
    const v1 = prs.slice(0, 20);
    const v2 = prs.slice(20).map((pr) => ({ ...pr, promptVersion: 'pr-analysis-v2' }));
    await producer.send({
      topic: `${prefix}${Topic.PrIngested}`,
      messages: [...v1, ...v2].map((pr) => ({
        key: pr.requestId,
        value: JSON.stringify(createEvent(Topic.PrIngested, pr, { correlationId: `pv-${pr.requestId}`, producer: 'prompt-versions-test' })),
      })),
    });

    const results: Array<{ request_id: string; prompt_version: string; status: string; analysis: { ai_tools: string[]; summary: string }; normalised: string[] | null; pass: number }> =
      await eventually(
        'every request terminal',
        async () => {
          const rows = await db.dataSource.query(`SELECT request_id, prompt_version, status, analysis, normalised, pass FROM results ORDER BY request_id`);
          return rows.length === prs.length ? rows : null;
        },
        120_000,
      );

    // Nothing rejected for a rule the sent schema does not state, and nothing paid for twice.
    expect(results.filter((r) => r.status !== 'succeeded')).toEqual([]);
    const [{ failedAttempts, retryBatches }] = await db.dataSource.query(
      `SELECT (SELECT count(*) FROM attempts WHERE outcome = 'failed')::int AS "failedAttempts",
              (SELECT count(*) FROM batches WHERE pass > 1)::int AS "retryBatches"`,
    );
    expect({ failedAttempts, retryBatches }).toEqual({ failedAttempts: 0, retryBatches: 0 });
    const stats = sim.stats();
    expect(stats.deviations.repeated_item).toBe(prs.length);
    expect(stats.deviations.empty_summary).toBeGreaterThan(0);
    expect(Object.values(stats.linesProcessed).reduce((a, b) => a + b, 0)).toBe(prs.length);

    // Each deviation is normalised and flagged on the stored result.
    for (const result of results) {
      expect(new Set(result.analysis.ai_tools).size).toBe(result.analysis.ai_tools.length);
      expect(result.normalised).toContain('ai_tools: removed 1 repeated item');
    }
    const emptied = results.filter((r) => r.analysis.summary === '');
    expect(emptied).toHaveLength(stats.deviations.empty_summary!);
    for (const result of emptied) expect(result.normalised).toContain('summary: empty');
    expect(results.filter((r) => r.prompt_version === 'pr-analysis-v2').map((r) => r.request_id)).toEqual(v2.map((pr) => pr.requestId).sort());

    // What the provider received: each batch's lines carry the prompt and schema of its own version.
    const groq = new Groq({ apiKey: 'fake-pipeline-test-key', baseURL: sim.url, maxRetries: 1 });
    const batches: Array<{ prompt_version: string; input_file_id: string }> = await db.dataSource.query(`SELECT prompt_version, input_file_id FROM batches`);
    expect(new Set(batches.map((b) => b.prompt_version))).toEqual(new Set(['pr-analysis-v1', 'pr-analysis-v2']));
    const seen = new Map<string, number>();
    for (const batch of batches) {
      const version = promptRegistry().get(batch.prompt_version);
      const lines = (await (await groq.files.content(batch.input_file_id)).text()).trim().split('\n');
      for (const line of lines.map((l) => JSON.parse(l) as { body: { messages: Array<{ content: string }>; response_format: { json_schema: { schema: unknown } } } })) {
        expect(line.body.messages[0]!.content).toBe(version.system);
        expect(line.body.response_format.json_schema.schema).toEqual(version.schema);
      }
      seen.set(batch.prompt_version, (seen.get(batch.prompt_version) ?? 0) + lines.length);
    }
    expect(Object.fromEntries(seen)).toEqual({ 'pr-analysis-v1': v1.length, 'pr-analysis-v2': v2.length });
    expect(promptRegistry().get('pr-analysis-v2').system).not.toBe(promptRegistry().get('pr-analysis-v1').system);
  }, 180_000);
});
