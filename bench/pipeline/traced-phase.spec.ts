import { parseEnv, tracingEnv, tracingRequested } from '#platform';
import { tracingOn, TRACING_OFF } from './traced-phase.js';

describe('the traced bench phase environment', () => {
  const endpoint = 'http://127.0.0.1:4318';

  it('traces every request by default, with the SDK sampler left at its default', () => {
    const env = parseEnv(tracingEnv, tracingOn(endpoint));
    expect(tracingRequested(env)).toBe(true);
    expect(env.OTEL_TRACES_SAMPLER).toBeUndefined();
  });

  it('samples a share of requests with the head sampler operators use, each request whole', () => {
    const env = parseEnv(tracingEnv, tracingOn(endpoint, 0.1));
    expect(tracingRequested(env)).toBe(true);
    expect({ sampler: env.OTEL_TRACES_SAMPLER, arg: env.OTEL_TRACES_SAMPLER_ARG }).toEqual({ sampler: 'parentbased_traceidratio', arg: 0.1 });
  });

  it('leaves tracing off in the untraced phases', () => {
    expect(tracingRequested(parseEnv(tracingEnv, TRACING_OFF))).toBe(false);
  });
});
