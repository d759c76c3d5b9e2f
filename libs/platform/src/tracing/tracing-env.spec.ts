import { parseEnv } from '../config/service-config.js';
import { tracingEnv, tracingRequested } from './tracing-env.js';

const requested = (env: Record<string, string>) => tracingRequested(parseEnv(tracingEnv, env));

describe('tracing from the OTEL_* variables', () => {
  it('is off unless an exporter or an OTLP endpoint is named', () => {
    expect(requested({})).toBe(false);
    expect(requested({ OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' })).toBe(false);
    expect(requested({ OTEL_TRACES_EXPORTER: 'otlp' })).toBe(true);
    expect(requested({ OTEL_TRACES_EXPORTER: 'console' })).toBe(true);
    expect(requested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
    expect(requested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://collector:4318/v1/traces' })).toBe(true);
  });

  it('stays off with the exporter none or the SDK disabled, whatever else is set', () => {
    expect(requested({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(false);
    expect(requested({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'true' })).toBe(false);
  });

  it('names the variable of a bad value', () => {
    expect(() => parseEnv(tracingEnv, { OTEL_TRACES_EXPORTER: 'jaeger' })).toThrow(/OTEL_TRACES_EXPORTER/);
    expect(() => parseEnv(tracingEnv, { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
    expect(() => parseEnv(tracingEnv, { OTEL_EXPORTER_OTLP_PROTOCOL: 'udp' })).toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL/);
    expect(() => parseEnv(tracingEnv, { OTEL_TRACES_SAMPLER_ARG: '2' })).toThrow(/OTEL_TRACES_SAMPLER_ARG/);
    expect(() => parseEnv(tracingEnv, { OTEL_EXPORTER_OTLP_HEADERS: 'no-equals-sign' })).toThrow(/OTEL_EXPORTER_OTLP_HEADERS/);
    expect(parseEnv(tracingEnv, { OTEL_EXPORTER_OTLP_HEADERS: 'api-key=abc,x-tenant=t1' }).OTEL_EXPORTER_OTLP_HEADERS).toBe('api-key=abc,x-tenant=t1');
  });
});
