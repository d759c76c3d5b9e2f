import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import { setTracingEnabled } from './tracing.js';

export interface TracingHandle {
  /** Exports what is buffered and stops tracing (called on shutdown, after the app closed). */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** `service.name` of every span (OTEL_SERVICE_NAME, when set, is passed here instead). */
  serviceName: string;
  /** Replace the exporters named by OTEL_TRACES_EXPORTER (a test's in-memory exporter). */
  spanProcessors?: SpanProcessor[];
  /** Patch pg, http and express: only before they are first imported (see launch.ts). */
  instrument?: boolean;
}

/**
 * Loads and starts the OpenTelemetry SDK: the exporter, sampler and endpoint come from the standard OTEL_*
 * variables (OTLP over HTTP by default); metrics and logs stay with the project's own (/metrics, pino), so
 * the SDK's are not started. Loaded only when tracing is asked for: with it off, no SDK module is imported.
 *
 * kafkajs is not auto-instrumented: its producer span would take the relay's context, not the row's, and
 * overwrite the `traceparent` the relay injects; the outbox relay and the inbox make the messaging spans.
 */
export async function startTracing(options: TracingOptions): Promise<TracingHandle> {
  const hooks = options.instrument ? await registerImportHooks() : null;
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const sdk = new NodeSDK({
    serviceName: options.serviceName,
    ...(options.spanProcessors ? { spanProcessors: options.spanProcessors } : {}),
    instrumentations: options.instrument ? await instrumentations() : [],
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  // The loader thread must know every hooked module before the service's own modules are imported.
  await hooks?.waitForAllMessagesAcknowledged();
  setTracingEnabled(true);
  return {
    async shutdown() {
      setTracingEnabled(false);
      await sdk.shutdown();
    },
  };
}

/**
 * ESM modules are patched through import-in-the-middle's loader hook, registered for the modules the
 * instrumentations hook and no others (the supported way for Node 22's `module.register`).
 */
async function registerImportHooks(): Promise<{ waitForAllMessagesAcknowledged(): Promise<void> }> {
  const { register } = await import('node:module');
  const { createAddHookMessageChannel } = await import('import-in-the-middle');
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);
  return { waitForAllMessagesAcknowledged };
}

/** Which routes and queries become spans: see README, Tracing. */
async function instrumentations() {
  const [{ HttpInstrumentation }, { ExpressInstrumentation, ExpressLayerType }, { PgInstrumentation }] = await Promise.all([
    import('@opentelemetry/instrumentation-http'),
    import('@opentelemetry/instrumentation-express'),
    import('@opentelemetry/instrumentation-pg'),
  ]);
  return [
    new HttpInstrumentation({
      // Probes and scrapes every few seconds would bury the traces that matter.
      ignoreIncomingRequestHook: (request) => /^\/(health|metrics)(\/|\?|$)/.test(request.url ?? ''),
      // A provider call belongs to the batch it submits or polls; one made outside any span is noise.
      requireParentforOutgoingSpans: true,
    }),
    new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE] }),
    // Queries inside a recorded step only (not the relay's and the pollers' idle polls, nor those of a step its
    // sampler left out: see tracing.ts, UNRECORDED); never their parameters (PR text). Taking a pooled
    // connection is no span of its own: the query that follows shows the wait.
    new PgInstrumentation({ requireParentSpan: true, ignoreConnectSpans: true, enhancedDatabaseReporting: false }),
  ];
}
