import { parseEnv, tracingEnv, tracingRequested } from '#platform';
import { pairRatios, type TracedFigures, tracingOn, TRACING_OFF } from './traced-phase.js';

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

describe('alternated tracing pairs', () => {
  const phase = (pipelineMs: number): TracedFigures => ({ pipelineMs, finished: true, cpuSeconds: {}, exported: { requests: 0, bytes: 0, spans: 0 } });

  it('gives each pair its throughput ratio (time off / time on) and judges by the median', () => {
    const pairs = [
      { off: phase(20_000), on: phase(25_000) },
      { off: phase(20_000), on: phase(20_000) },
      { off: phase(22_000), on: phase(20_000) },
    ];
    const { ratios, median } = pairRatios(pairs);
    expect(ratios).toEqual([0.8, 1, 1.1]);
    expect(median).toBe(1);
  });

  it('takes the mean of the middle two for an even number of pairs', () => {
    expect(pairRatios([{ off: phase(10), on: phase(20) }, { off: phase(10), on: phase(10) }]).median).toBe(0.75);
  });
});
