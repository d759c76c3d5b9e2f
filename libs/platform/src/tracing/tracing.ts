import {
  type Attributes,
  type Context,
  context,
  createContextKey,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  trace,
  TraceFlags,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';

/**
 * The project's side of tracing, on the OpenTelemetry API alone (the SDK is loaded only when tracing is on,
 * see start-tracing.ts). Events leave through the outbox and large provider batches carry many requests, so
 * the context is carried by hand where automatic propagation cannot follow: a W3C `traceparent` on each
 * outbox row (injected into the message headers when the relay publishes), on each request row and in each
 * request's metadata (every event that carries the request carries its trace), and on each batch row.
 */

/** On a global symbol, so that every copy of this module (a test's and its services') agrees. */
const ENABLED = Symbol.for('cascade.tracing.enabled');
type Flagged = typeof globalThis & { [ENABLED]?: boolean };

/** Whether a tracer provider was started: when not, no span, context or traceparent is made at all. */
export function tracingEnabled(): boolean {
  return (globalThis as Flagged)[ENABLED] === true;
}

export function setTracingEnabled(on: boolean): void {
  (globalThis as Flagged)[ENABLED] = on;
}

/** Span attributes of the project (the OpenTelemetry messaging ones are spelled out where they are set). */
export const TraceAttribute = {
  requestId: 'cascade.request.id',
  promptVersion: 'cascade.prompt_version',
  attempt: 'cascade.attempt',
  batchId: 'cascade.batch.id',
  pass: 'cascade.pass',
  model: 'cascade.model',
  outcome: 'cascade.outcome',
  requests: 'cascade.request.count',
} as const;

/**
 * Links one span keeps to the traces it touches (a batch's requests, a consumed slice's messages): the
 * SDK's own default link limit. A 50,000-line batch links its first 128 requests and counts the rest in
 * `cascade.request.count`; every request still reaches the batch from its own trace (its steps link to it).
 */
export const MAX_SPAN_LINKS = 128;

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** `00-<trace id>-<span id>-<flags>`: the W3C form stored in the database and in request metadata. */
export function traceparentOf(spanContext: SpanContext): string {
  return `00-${spanContext.traceId}-${spanContext.spanId}-${spanContext.traceFlags.toString(16).padStart(2, '0')}`;
}

/** The trace id of a stored traceparent. */
export function traceIdOf(traceparent: string): string {
  return traceparent.slice(3, 35);
}

/** The remote span context a stored traceparent names, or null when there is none (or it is malformed). */
export function spanContextOf(traceparent: string | null | undefined): SpanContext | null {
  const match = traceparent ? TRACEPARENT.exec(traceparent) : null;
  if (!match) return null;
  return { traceId: match[1]!, spanId: match[2]!, traceFlags: parseInt(match[3]!, 16), isRemote: true };
}

/** Whether a span context's trace is recorded (its sampled flag): one that is not is exported nowhere. */
export function isSampled(spanContext: SpanContext): boolean {
  return (spanContext.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
}

/**
 * Where {@link ServiceTracer.inSpan} keeps a span its sampler did not record, instead of the API's active-span
 * key: the pg and http instrumentations (`requireParentSpan`, `requireParentforOutgoingSpans`) then see no
 * parent and leave the step's queries and calls alone, as they do with tracing off. Most requests are not
 * sampled at volume, and a non-recording span per query was most of what tracing cost them. The project's
 * own spans, links and stored traceparents read it through {@link activeContext}, so an unsampled trace
 * stays one trace (its decision travels on with it) and nothing under it is recorded.
 */
const UNRECORDED = createContextKey('cascade.tracing.unrecorded-span');

/**
 * The active context; when it has no span of the API's own, the unrecorded span of {@link UNRECORDED} (if any) as
 * its span (a span set later, inside it, by anyone, wins).
 */
function activeContext(): Context {
  const active = context.active();
  if (trace.getSpan(active)) return active;
  const unrecorded = active.getValue(UNRECORDED) as SpanContext | undefined;
  return unrecorded ? trace.setSpanContext(active, unrecorded) : active;
}

/** The span context active now, recorded or not (undefined with none). */
function activeSpanContext(): SpanContext | undefined {
  return trace.getSpanContext(activeContext());
}

/** The traceparent of the active span, for a row written now (null when tracing is off or no span is active). */
export function activeTraceparent(): string | null {
  if (!tracingEnabled()) return null;
  const active = activeSpanContext();
  return active && active.traceId !== '00000000000000000000000000000000' ? traceparentOf(active) : null;
}

/** Kafka header values arrive as Buffers (or arrays of them). */
const kafkaHeaders: TextMapGetter<Record<string, unknown>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = carrier[key];
    const first = Array.isArray(value) ? value[0] : value;
    return Buffer.isBuffer(first) ? first.toString('utf8') : typeof first === 'string' ? first : undefined;
  },
};

/** The context a consumed message's headers carry (the global propagator: W3C trace context by default). */
export function contextOfHeaders(headers: Record<string, unknown>): Context {
  return propagation.extract(ROOT_CONTEXT, headers, kafkaHeaders);
}

/** A copy of `headers` with the context of `span` injected. */
export function headersWithSpan(headers: Record<string, string>, span: Span): Record<string, string> {
  const carrier = { ...headers };
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
  return carrier;
}

/** What a request step needs of a request's metadata. */
export interface TracedRequest {
  requestId: string;
  promptVersion: string;
  attempt: number;
  traceparent?: string | undefined;
}

export interface SpanOptions {
  kind?: SpanKind;
  /** The parent; by default the active context. */
  parent?: Context;
  attributes?: Attributes;
  links?: Link[];
}

/**
 * The spans of one service (its name is the tracer's: in one process running several services, as the
 * tests do, each span still says which service made it). Every method is a no-op while tracing is off.
 */
export class ServiceTracer {
  constructor(readonly service: string) {}

  /** The tracer of the provider registered now (kept until another is: tests start and stop tracing). */
  private cached: { provider: TracerProvider; tracer: Tracer } | null = null;

  private get tracer(): Tracer {
    const provider = trace.getTracerProvider();
    if (this.cached?.provider !== provider) this.cached = { provider, tracer: provider.getTracer(this.service) };
    return this.cached.tracer;
  }

  /** A span the caller ends (call only while tracing is on). */
  startSpan(name: string, options: SpanOptions): Span {
    return this.tracer.startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes, links: options.links }, options.parent ?? activeContext());
  }

  /**
   * Runs `work` inside a new span, ended when it settles (a thrown error is recorded on it). A span the sampler
   * did not record is active for the project's spans only (see {@link UNRECORDED}), not for the instrumentations.
   */
  async inSpan<T>(name: string, options: SpanOptions, work: (span: Span | undefined) => Promise<T>): Promise<T> {
    if (!tracingEnabled()) return work(undefined);
    const parent = options.parent ?? activeContext();
    const span = this.startSpan(name, { ...options, parent });
    const inside = span.isRecording() ? trace.setSpan(parent, span).deleteValue(UNRECORDED) : trace.deleteSpan(parent).setValue(UNRECORDED, span.spanContext());
    try {
      return await context.with(inside, () => work(span));
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  }

  /**
   * Starts a request's own trace when it is accepted: a span under `parent` (the context its upstream
   * producer sent, if any) or the root of a new trace. Returns its traceparent, which the request keeps.
   */
  startRequest(name: string, request: TracedRequest, attributes: Attributes = {}, parent: Context = ROOT_CONTEXT): string | undefined {
    if (!tracingEnabled()) return undefined;
    const span = this.tracer.startSpan(name, { kind: SpanKind.INTERNAL, attributes: { ...requestAttributes(request), ...attributes }, links: activeLink() }, parent);
    span.end();
    return traceparentOf(span.spanContext());
  }

  /**
   * One step of a request (collected, retried, resolved): a span in the request's own trace, linked to the
   * span active now (the batch or event that carried it there). A request without a trace (accepted while
   * tracing was off) gets none: a span of its own would start a second trace for it.
   */
  requestStep(name: string, request: TracedRequest, attributes: Attributes = {}): void {
    if (!tracingEnabled()) return;
    const parent = spanContextOf(request.traceparent);
    // A trace its root did not sample records none of its steps (the parent-based samplers' rule, kept here
    // so that the step of an unsampled request costs nothing at all).
    if (!parent || !isSampled(parent)) return;
    const span = this.tracer.startSpan(
      name,
      { kind: SpanKind.INTERNAL, attributes: { ...requestAttributes(request), ...attributes }, links: activeLink() },
      trace.setSpanContext(ROOT_CONTEXT, parent),
    );
    span.end();
  }

  /** Links to the traces of up to MAX_SPAN_LINKS of `requests` (those that carry a recorded one). */
  static requestLinks(requests: readonly TracedRequest[]): Link[] {
    if (!tracingEnabled()) return [];
    return recordedLinks(
      (function* () {
        for (const request of requests) yield { context: spanContextOf(request.traceparent), attributes: { [TraceAttribute.requestId]: request.requestId } };
      })(),
    );
  }
}

/**
 * Links to the recorded ones of `targets` (a link to a trace the sampler left out points nowhere), at most
 * MAX_SPAN_LINKS; `targets` is read only as far as that.
 */
export function recordedLinks(targets: Iterable<{ context: SpanContext | null | undefined; attributes?: Attributes }>): Link[] {
  const links: Link[] = [];
  for (const { context: linked, attributes } of targets) {
    if (links.length >= MAX_SPAN_LINKS) break;
    if (linked && isSampled(linked)) links.push(attributes ? { context: linked, attributes } : { context: linked });
  }
  return links;
}

/** A link to the span active now (the batch or event a request step happens in), if any and recorded. */
function activeLink(): Link[] {
  return recordedLinks([{ context: activeSpanContext() }]);
}

function requestAttributes(request: TracedRequest): Attributes {
  return {
    [TraceAttribute.requestId]: request.requestId,
    [TraceAttribute.promptVersion]: request.promptVersion,
    [TraceAttribute.attempt]: request.attempt,
  };
}
