import { startTracing, TraceAttribute, type TracingHandle } from '#platform';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { syntheticPrs } from '../../apps/cli/src/demo/synthetic-prs.js';
import { CHEAP_MODEL_PROFILE } from '../../tools/groq-simulator/src/options.js';
import { usePipeline } from '../support/pipeline.js';

const CHEAP = 'openai/gpt-oss-20b';
const RATIO = 0.3;

/**
 * Tracing with the head sampler operators use at volume (`parentbased_traceidratio`): a request's root decides
 * for its whole journey, across the outbox, its batches and its retry passes, in every service. A request is
 * traced whole or not at all, and nothing recorded links to a trace that was left out.
 */
describe('tracing with a ratio sampler (real broker, PostgreSQL, simulator)', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: TracingHandle | null = null;
  const saved = { sampler: process.env.OTEL_TRACES_SAMPLER, arg: process.env.OTEL_TRACES_SAMPLER_ARG };
  beforeAll(async () => {
    // The SDK reads its sampler from the standard variables when it starts, as in a deployed service.
    process.env.OTEL_TRACES_SAMPLER = 'parentbased_traceidratio';
    process.env.OTEL_TRACES_SAMPLER_ARG = String(RATIO);
    tracing = await startTracing({ serviceName: 'cascade-test', spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  });
  const fixture = usePipeline({
    name: 'trace-sampled',
    simulator: { seed: 29, profiles: { [CHEAP]: { ...CHEAP_MODEL_PROFILE, failureRate: 0.15 } } },
    services: { env: { BATCH_MAX_LINES: '250' } },
  });
  afterAll(async () => {
    await tracing?.shutdown();
    for (const [name, value] of [
      ['OTEL_TRACES_SAMPLER', saved.sampler],
      ['OTEL_TRACES_SAMPLER_ARG', saved.arg],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  const COUNT = 1_000;

  it(`traces about ${RATIO * 100} % of ${COUNT} requests, each whole in every service it passed through, and links only to recorded traces`, async () => {
    await fixture.publish(syntheticPrs({ count: COUNT, seed: 11 }));
    const report = await fixture.settled(COUNT, 240_000);
    expect(report.invariantHolds).toBe(true);
    const spans = exporter.getFinishedSpans();

    const terminal: Array<{ request_id: string; passes: number; failed_attempts: number }> = await fixture.db.dataSource.query(
      `SELECT r.request_id,
              (SELECT count(*) FROM batch_items i WHERE i.request_id = r.request_id)::int AS passes,
              (SELECT count(*) FROM attempts a WHERE a.request_id = r.request_id AND a.outcome = 'failed')::int AS failed_attempts
       FROM results r`,
    );
    expect(terminal).toHaveLength(COUNT);
    expect(terminal.filter((t) => t.failed_attempts > 0 && t.passes > 1).length).toBeGreaterThan(50);

    const byRequest = new Map<string, ReadableSpan[]>();
    for (const span of spans) {
      const requestId = span.attributes[TraceAttribute.requestId];
      if (typeof requestId === 'string') byRequest.set(requestId, [...(byRequest.get(requestId) ?? []), span]);
    }
    // Whole or nothing: a request whose root was sampled has every step, in one trace; any other has none.
    const problems: string[] = [];
    let traced = 0;
    let tracedRetried = 0;
    for (const request of terminal) {
      const own = byRequest.get(request.request_id) ?? [];
      const names = own.map((span) => span.name);
      if (!names.includes('request accept')) {
        if (own.length > 0) problems.push(`${request.request_id}: steps ${names.join(', ')} without its accept`);
        continue;
      }
      traced++;
      if (request.failed_attempts > 0) tracedRetried++;
      if (new Set(own.map((span) => span.spanContext().traceId)).size !== 1) problems.push(`${request.request_id}: more than one trace`);
      const collected = names.filter((name) => name === 'request collect').length;
      if (collected !== request.passes) problems.push(`${request.request_id}: ${collected} collect spans for ${request.passes} passes`);
      if (names.filter((name) => name === 'request resolve').length !== 1) problems.push(`${request.request_id}: not resolved exactly once`);
      if (request.failed_attempts > 0 && !names.includes('request retry')) problems.push(`${request.request_id}: failed, but no retry step`);
    }
    expect(problems).toEqual([]);
    // About RATIO of them (a binomial draw: 1,000 × 0.3 has a standard deviation of 14.5 requests).
    expect(traced).toBeGreaterThan(COUNT * (RATIO - 0.1));
    expect(traced).toBeLessThan(COUNT * (RATIO + 0.1));
    expect(tracedRetried).toBeGreaterThan(5);

    // Every link of a recorded span (a batch's to its requests, a slice's to its messages, a step's to its
    // batch or event) points into a trace that was recorded too.
    const recordedTraces = new Set(spans.map((span) => span.spanContext().traceId));
    const dangling = spans.flatMap((span) => span.links.filter((link) => !recordedTraces.has(link.context.traceId)).map(() => span.name));
    expect(dangling).toEqual([]);
  }, 300_000);
});
