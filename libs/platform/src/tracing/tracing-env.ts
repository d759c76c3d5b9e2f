import { z } from 'zod';

const TRACE_EXPORTERS = ['otlp', 'console', 'zipkin', 'none'] as const;

/**
 * The standard OpenTelemetry variables a service honours (the SDK reads them itself; they are validated
 * here so that a typo stops the service at boot instead of silently exporting nothing). Tracing is off
 * unless an exporter or an OTLP endpoint is named: then the SDK is not even loaded.
 */
export const tracingEnv = z.object({
  OTEL_TRACES_EXPORTER: z
    .string()
    .transform((value) => value.split(',').map((part) => part.trim()).filter(Boolean))
    .pipe(z.array(z.enum(TRACE_EXPORTERS, { message: `must be a comma-separated list of ${TRACE_EXPORTERS.join(', ')}` })).min(1))
    .optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  OTEL_EXPORTER_OTLP_PROTOCOL: z.enum(['http/protobuf', 'http/json', 'grpc']).optional(),
  /** `key=value,...`, e.g. a collector's API key: scrubbed from every log line. */
  OTEL_EXPORTER_OTLP_HEADERS: z.string().regex(/^[^=,\s]+=[^,]*(,[^=,\s]+=[^,]*)*$/, 'must be key=value pairs, comma-separated').optional(),
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
  OTEL_TRACES_SAMPLER: z
    .enum(['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'])
    .optional(),
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).optional(),
  OTEL_SDK_DISABLED: z.enum(['true', 'false']).transform((value) => value === 'true').optional(),
});
export type TracingEnv = z.infer<typeof tracingEnv>;

/** On when an exporter other than `none`, or an OTLP endpoint, is set, and the SDK is not disabled. */
export function tracingRequested(env: TracingEnv): boolean {
  if (env.OTEL_SDK_DISABLED) return false;
  const exporters = env.OTEL_TRACES_EXPORTER ?? [];
  if (exporters.length > 0) return exporters.some((exporter) => exporter !== 'none');
  return env.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined;
}
