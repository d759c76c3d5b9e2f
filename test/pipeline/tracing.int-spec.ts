import { Topic } from '#contracts';
import { startTracing, TraceAttribute, type TracingHandle } from '#platform';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { syntheticPrs } from '../../apps/cli/src/demo/synthetic-prs.js';
import { CHEAP_MODEL_PROFILE } from '../../tools/groq-simulator/src/options.js';
import { usePipeline } from '../support/pipeline.js';

const CHEAP = 'openai/gpt-oss-20b';

/**
 * Every request's journey is one trace, across the outbox, the provider batches that carried it and its retry
 * passes: the four services run in this process against the real broker and PostgreSQL, with the SDK's
 * in-memory exporter in place of OTLP.
 */
describe('tracing through the outbox (real broker, PostgreSQL, simulator)', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: TracingHandle | null = null;
  // Before the fixture's own beforeAll: the services must find tracing on when they start.
  beforeAll(async () => {
    tracing = await startTracing({ serviceName: 'cascade-test', spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  });
  // Enough failures on the first model that a good share of the requests takes a second pass, through the retry-service.
  const fixture = usePipeline({
    name: 'trace',
    simulator: { seed: 23, profiles: { [CHEAP]: { ...CHEAP_MODEL_PROFILE, failureRate: 0.15 } } },
    services: { env: { BATCH_MAX_LINES: '250' } },
  });
  afterAll(async () => tracing?.shutdown());
  const COUNT = 1_000;

  it(`gives each of ${COUNT} requests one trace covering every service it passed through, retry passes included`, async () => {
    const prs = syntheticPrs({ count: COUNT, seed: 9 });
    await fixture.publish(prs);
    const report = await fixture.settled(COUNT, 240_000);
    expect(report.invariantHolds).toBe(true);
    const spans = exporter.getFinishedSpans();

    // The request rows, their terminal records, and the passes (batches) and failed attempts of each.
    const terminal: Array<{ request_id: string; status: string; passes: number; failed_attempts: number }> = await fixture.db.dataSource.query(
      `SELECT r.request_id, r.status,
              (SELECT count(*) FROM batch_items i WHERE i.request_id = r.request_id)::int AS passes,
              (SELECT count(*) FROM attempts a WHERE a.request_id = r.request_id AND a.outcome = 'failed')::int AS failed_attempts
       FROM results r`,
    );
    expect(terminal).toHaveLength(COUNT);
    const retried = terminal.filter((t) => t.failed_attempts > 0);
    expect(retried.filter((t) => t.passes > 1).length).toBeGreaterThan(50);

    const byRequest = new Map<string, ReadableSpan[]>();
    for (const span of spans) {
      const requestId = span.attributes[TraceAttribute.requestId];
      if (typeof requestId === 'string') byRequest.set(requestId, [...(byRequest.get(requestId) ?? []), span]);
    }
    const problems: string[] = [];
    for (const request of terminal) {
      const own = byRequest.get(request.request_id) ?? [];
      const traces = new Set(own.map((span) => span.spanContext().traceId));
      if (traces.size !== 1) {
        problems.push(`${request.request_id}: ${traces.size} traces`);
        continue;
      }
      const services = new Set(own.map((span) => span.instrumentationScope.name));
      const expected = ['batch-submitter', 'result-writer'];
      if (request.passes > 0) expected.push('poller');
      if (request.failed_attempts > 0) expected.push('retry-service');
      const missing = expected.filter((service) => !services.has(service));
      if (missing.length > 0) problems.push(`${request.request_id}: no span from ${missing.join(', ')}`);
      // One collect per pass: every batch the request was in, the retry passes' too, is in its trace.
      const collected = own.filter((span) => span.name === 'request collect').length;
      if (collected !== request.passes) problems.push(`${request.request_id}: ${collected} collect spans for ${request.passes} passes`);
      if (own.filter((span) => span.name === 'request resolve').length !== 1) problems.push(`${request.request_id}: not resolved exactly once`);
    }
    expect(problems).toEqual([]);

    // The trace a request shows on the ops API is the one its spans are in.
    const sample = retried.find((t) => t.passes > 1)!;
    const response = await fetch(`${fixture.services.poller!.url}/requests/${encodeURIComponent(sample.request_id)}`);
    const history = (await response.json()) as { traceId: string };
    expect(history.traceId).toBe(byRequest.get(sample.request_id)![0]!.spanContext().traceId);
  }, 300_000);

  it('carries the context through the outbox: every event is consumed as a child of the span that published it', () => {
    const spans = exporter.getFinishedSpans();
    const byId = new Map(spans.map((span) => [span.spanContext().spanId, span]));
    const consumed = spans.filter(
      (span) =>
        span.kind === SpanKind.CONSUMER &&
        [Topic.BatchSubmitted, Topic.BatchCompleted, Topic.RequestsFailed, Topic.ResultsMerged, Topic.RequestsFailedPermanently].some((topic) =>
          String(span.attributes['messaging.destination.name']).endsWith(topic),
        ),
    );
    expect(consumed.length).toBeGreaterThan(10);
    for (const span of consumed) {
      const publish = byId.get(span.parentSpanContext?.spanId ?? '');
      expect(publish?.kind).toBe(SpanKind.PRODUCER);
      expect(publish?.spanContext().traceId).toBe(span.spanContext().traceId);
      // ...and the publish span is a child of the span that wrote the outbox row (a batch's submit or poll, or a handler).
      expect(byId.get(publish!.parentSpanContext?.spanId ?? '')).toBeDefined();
    }
    // A provider batch is a trace of its own, linked to the traces of (at most 128 of) its requests.
    const submits = spans.filter((span) => span.name === 'batch submit' && span.attributes['cascade.recorded'] === true);
    expect(submits.length).toBeGreaterThan(4);
    for (const submit of submits) {
      expect(submit.parentSpanContext).toBeUndefined();
      expect(submit.links.length).toBe(Math.min(128, Number(submit.attributes[TraceAttribute.requests])));
    }
  });
});
