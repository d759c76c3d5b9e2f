import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { IsoDateTime, PositiveInt, text } from './primitives.js';

/** The envelope shared by every event; `payload` is typed per topic by the registry. */
export function envelopeSchema<P extends z.ZodType>(type: string, version: number, payload: P) {
  return z.object({
    eventId: z.uuid(),
    type: z.literal(type),
    version: z.literal(version),
    occurredAt: IsoDateTime,
    correlationId: text({ min: 1, max: 200 }),
    causationId: text({ min: 1, max: 200 }).nullable().default(null),
    producer: text({ min: 1, max: 200 }),
    payload,
  });
}

export interface EventEnvelope<P> {
  eventId: string;
  type: string;
  version: number;
  occurredAt: string;
  correlationId: string;
  causationId: string | null;
  producer: string;
  payload: P;
}

export const EnvelopeVersion = PositiveInt;

export interface NewEventOptions {
  correlationId: string;
  /** The eventId of the event that caused this one, so a chain can be followed back. */
  causationId?: string | null;
  producer: string;
  eventId?: string;
  occurredAt?: Date;
}

export function newEnvelope<P>(type: string, version: number, payload: P, options: NewEventOptions): EventEnvelope<P> {
  return {
    eventId: options.eventId ?? randomUUID(),
    type,
    version,
    occurredAt: (options.occurredAt ?? new Date()).toISOString(),
    correlationId: options.correlationId,
    causationId: options.causationId ?? null,
    producer: options.producer,
    payload,
  };
}
