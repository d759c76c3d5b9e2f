import { Counter, collectDefaultMetrics, Registry } from 'prom-client';
import { METRICS, promConfig } from './metric-catalogue.js';

/** Why a message went to its dead-letter topic: a bounded label, the full reason is in `dead_letters`. */
export type DeadLetterReason = 'invalid' | 'refused' | 'handler_failed';

/** The service's Prometheus registry and the metrics every service shares. */
export class ConsumerMetrics {
  readonly registry = new Registry();
  readonly consumed: Counter<'topic' | 'outcome'>;
  readonly deadLetters: Counter<'topic' | 'reason'>;

  constructor(service: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
    this.consumed = new Counter({ ...promConfig(METRICS.eventsConsumed), registers: [this.registry] });
    this.deadLetters = new Counter({ ...promConfig(METRICS.deadLetters), registers: [this.registry] });
  }
}
