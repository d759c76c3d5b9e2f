import { context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { startTracing, type TracingHandle } from './start-tracing.js';
import { activeTraceparent, isSampled, MAX_SPAN_LINKS, ServiceTracer, spanContextOf, TraceAttribute, traceIdOf, traceparentOf, tracingEnabled } from './tracing.js';

const request = (n: number, traceparent?: string) => ({ requestId: `acme/api#${n}`, promptVersion: 'pr-analysis-v1', attempt: 1, traceparent });

describe('traceparent', () => {
  it('round-trips a span context and rejects anything else', () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const parsed = spanContextOf(traceparent)!;
    expect(parsed).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1, isRemote: true });
    expect(traceparentOf(parsed)).toBe(traceparent);
    expect(traceIdOf(traceparent)).toBe('0af7651916cd43dd8448eb211c80319c');
    for (const bad of [undefined, null, '', '01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', '00-xyz-b7ad6b7169203331-01']) {
      expect(spanContextOf(bad)).toBeNull();
    }
  });
});

describe('ServiceTracer with tracing off', () => {
  it('makes no span, no traceparent and no link, and runs the work', async () => {
    expect(tracingEnabled()).toBe(false);
    const tracer = new ServiceTracer('batch-submitter');
    expect(tracer.startRequest('request accept', request(1))).toBeUndefined();
    expect(await tracer.inSpan('work', {}, async (span) => span)).toBeUndefined();
    expect(ServiceTracer.requestLinks([request(1, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')])).toEqual([]);
    expect(activeTraceparent()).toBeNull();
  });
});

describe('ServiceTracer with tracing on', () => {
  const exporter = new InMemorySpanExporter();
  const processor = new SimpleSpanProcessor({ exporter });
  // Spans are exported once the resource's detected attributes have settled.
  const finished = async () => {
    await processor.forceFlush();
    return exporter.getFinishedSpans();
  };
  let tracing: TracingHandle;
  beforeAll(async () => {
    tracing = await startTracing({ serviceName: 'unit', spanProcessors: [processor] });
  });
  afterAll(async () => {
    await tracing.shutdown();
    trace.disable();
    context.disable();
  });
  beforeEach(() => exporter.reset());

  it("continues a request's trace from its traceparent, linked to the span active at the step", async () => {
    const submitter = new ServiceTracer('batch-submitter');
    const poller = new ServiceTracer('poller');
    const traceparent = submitter.startRequest('request accept', request(1), { [TraceAttribute.outcome]: 'queued' })!;
    const batch = await poller.inSpan('batch poll', {}, async (span) => {
      poller.requestStep('request collect', request(1, traceparent));
      // The active span's context is what an outbox row written here would carry.
      expect(activeTraceparent()).toBe(traceparentOf(span!.spanContext()));
      return span!.spanContext();
    });
    const spans = await finished();
    const [accept, collect] = ['request accept', 'request collect'].map((name) => spans.find((span) => span.name === name)!);
    expect(accept!.instrumentationScope.name).toBe('batch-submitter');
    expect(collect!.instrumentationScope.name).toBe('poller');
    expect(collect!.spanContext().traceId).toBe(traceIdOf(traceparent));
    expect(collect!.parentSpanContext?.spanId).toBe(accept!.spanContext().spanId);
    expect(collect!.links.map((link) => link.context.spanId)).toEqual([batch.spanId]);
    expect(batch.traceId).not.toBe(traceIdOf(traceparent));
  });

  it('makes no step for a request without a trace (one would start a second trace for it)', async () => {
    new ServiceTracer('poller').requestStep('request collect', request(2));
    expect(await finished()).toEqual([]);
  });

  it(`links at most ${MAX_SPAN_LINKS} requests, those that carry a trace`, () => {
    const tracer = new ServiceTracer('batch-submitter');
    const traced = Array.from({ length: 300 }, (_, n) => request(n, n % 2 === 0 ? tracer.startRequest('request accept', request(n)) : undefined));
    const links = ServiceTracer.requestLinks(traced);
    expect(links).toHaveLength(MAX_SPAN_LINKS);
    expect(links[1]!.attributes?.[TraceAttribute.requestId]).toBe('acme/api#2');
  });

  describe('a trace its root did not sample', () => {
    const unsampled = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00';
    const parent = trace.setSpanContext(ROOT_CONTEXT, spanContextOf(unsampled)!);

    it('keeps its decision downstream but shows no active span to the instrumentations, and records nothing', async () => {
      const poller = new ServiceTracer('poller');
      const seen = await poller.inSpan('batch poll', { parent }, async (span) => {
        const outer = { recording: span!.isRecording(), instrumentationsSee: trace.getActiveSpan(), traceparent: activeTraceparent() };
        const inner = await poller.inSpan('nested', {}, async (nested) => ({ recording: nested!.isRecording(), traceparent: activeTraceparent() }));
        poller.requestStep('request collect', request(1, unsampled));
        return { outer, inner };
      });
      expect(seen.outer).toMatchObject({ recording: false, instrumentationsSee: undefined });
      // Rows written in it carry the same trace, still unsampled, so every later step skips it too.
      for (const traceparent of [seen.outer.traceparent, seen.inner.traceparent]) {
        expect(traceIdOf(traceparent!)).toBe(traceIdOf(unsampled));
        expect(isSampled(spanContextOf(traceparent)!)).toBe(false);
      }
      expect(seen.inner.recording).toBe(false);
      expect(await finished()).toEqual([]);
    });

    it('lets a span recorded inside it (a sampler that is not parent-based) be the active one again', async () => {
      const tracer = new ServiceTracer('poller');
      const recorded = tracer.startSpan('recorded', { parent: ROOT_CONTEXT });
      const seen = await tracer.inSpan('batch poll', { parent }, async () =>
        context.with(trace.setSpan(context.active(), recorded), async () => ({ traceparent: activeTraceparent(), link: await tracer.inSpan('child', {}, async (child) => child!.spanContext()) })),
      );
      recorded.end();
      expect(seen.traceparent).toBe(traceparentOf(recorded.spanContext()));
      expect(seen.link.traceId).toBe(recorded.spanContext().traceId);
    });

    it('is not linked from a recorded batch or step', async () => {
      const tracer = new ServiceTracer('batch-submitter');
      const sampled = tracer.startRequest('request accept', request(1))!;
      expect(isSampled(spanContextOf(sampled)!)).toBe(true);
      expect(ServiceTracer.requestLinks([request(1, sampled), request(2, unsampled)]).map((link) => link.attributes?.[TraceAttribute.requestId])).toEqual(['acme/api#1']);
      const accepted = await tracer.inSpan('slice', { parent }, async () => tracer.startRequest('request accept', request(3)));
      exporter.reset();
      // A request accepted inside an unsampled slice starts its own trace (sampled here), without a dangling link.
      await tracer.inSpan('slice', { parent }, async () => tracer.requestStep('request retry', request(3, accepted)));
      const [step] = await finished();
      expect(step!.links).toEqual([]);
    });
  });

  it('records a thrown error on the span and rethrows it', async () => {
    await expect(new ServiceTracer('poller').inSpan('batch poll', {}, async () => Promise.reject(new Error('provider down')))).rejects.toThrow('provider down');
    const [span] = await finished();
    expect(span!.status).toMatchObject({ code: 2, message: 'provider down' });
  });
});
