import { Counter, collectDefaultMetrics, Registry } from 'prom-client';

/** The service's Prometheus registry and the metrics every service shares. */
export class ConsumerMetrics {
  readonly registry = new Registry();
  readonly consumed: Counter<'topic' | 'outcome'>;

  constructor(service: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
    this.consumed = new Counter({
      name: 'cascade_events_consumed_total',
      help: 'Events consumed, by topic and outcome (processed, duplicate, dead-lettered).',
      labelNames: ['topic', 'outcome'],
      registers: [this.registry],
    });
  }
}
