import type { z } from 'zod';
import { type EventEnvelope, newEnvelope, type NewEventOptions } from './envelope.js';
import { contractOf, type TopicPayloads } from './registry.js';
import type { Topic } from './topics.js';

/** Kafka's default `max.message.bytes` is 1 MiB; stay clearly below it (headers and batch overhead). */
export const MAX_EVENT_BYTES = 1_000_000;

export const HEADER_TYPE = 'type';
export const HEADER_CORRELATION_ID = 'correlationId';
export const HEADER_EVENT_ID = 'eventId';

export interface EncodedEvent {
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}

export class ContractViolation extends Error {
  constructor(
    readonly topic: string,
    readonly reason: string,
    readonly path: string,
    readonly eventId: string | null,
  ) {
    super(`${topic}: ${reason}${path ? ` at ${path}` : ''}${eventId ? ` (eventId ${eventId})` : ''}`);
    this.name = 'ContractViolation';
  }
}

export type DecodeResult<T extends Topic> =
  | { ok: true; event: EventEnvelope<TopicPayloads[T]> }
  | { ok: false; violation: ContractViolation };

function firstIssue(error: z.ZodError): { reason: string; path: string } {
  const issue = error.issues[0];
  if (!issue) return { reason: 'invalid', path: '' };
  return { reason: issue.message, path: issue.path.map(String).join('.') };
}

/** Validates and serialises an event at the producer's edge; an invalid event never leaves the process. */
export function encodeEvent<T extends Topic>(topic: T, event: EventEnvelope<TopicPayloads[T]>): EncodedEvent {
  const contract = contractOf(topic);
  const parsed = contract.envelope.safeParse(event);
  if (!parsed.success) {
    const { reason, path } = firstIssue(parsed.error);
    throw new ContractViolation(topic, reason, path, event.eventId);
  }
  const envelope = parsed.data as EventEnvelope<TopicPayloads[T]>;
  const value = Buffer.from(JSON.stringify(envelope));
  if (value.byteLength > MAX_EVENT_BYTES) {
    throw new ContractViolation(
      topic,
      `event is ${value.byteLength} bytes, above the ${MAX_EVENT_BYTES}-byte limit: split it into parts`,
      '',
      event.eventId,
    );
  }
  return {
    key: contract.keyOf(envelope.payload),
    value,
    headers: {
      [HEADER_TYPE]: envelope.type,
      [HEADER_CORRELATION_ID]: envelope.correlationId,
      [HEADER_EVENT_ID]: envelope.eventId,
    },
  };
}

/** Parses and validates a consumed message; never throws, so one bad message cannot block a partition. */
export function decodeEvent<T extends Topic>(topic: T, value: Buffer | null | undefined): DecodeResult<T> {
  const fail = (reason: string, path = '', eventId: string | null = null): DecodeResult<T> => ({
    ok: false,
    violation: new ContractViolation(topic, reason, path, eventId),
  });
  if (!value || value.byteLength === 0) return fail('empty message');
  if (value.byteLength > MAX_EVENT_BYTES) return fail(`message is ${value.byteLength} bytes, above ${MAX_EVENT_BYTES}`);
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch (error) {
    // The parser's own message quotes the input (PR text): keep only where it broke.
    const position = /position (\d+)/.exec((error as Error).message)?.[1];
    return fail(`not JSON${position ? ` (unreadable at character ${position})` : ' (unreadable)'}`);
  }
  const eventId =
    typeof json === 'object' && json !== null && typeof (json as { eventId?: unknown }).eventId === 'string'
      ? (json as { eventId: string }).eventId.slice(0, 200)
      : null;
  const parsed = contractOf(topic).envelope.safeParse(json);
  if (!parsed.success) {
    const { reason, path } = firstIssue(parsed.error);
    return fail(reason, path, eventId);
  }
  return { ok: true, event: parsed.data as EventEnvelope<TopicPayloads[T]> };
}

/** Builds an envelope for `topic` with the contract's type and version. */
export function createEvent<T extends Topic>(
  topic: T,
  payload: TopicPayloads[T],
  options: NewEventOptions,
): EventEnvelope<TopicPayloads[T]> {
  const contract = contractOf(topic);
  return newEnvelope(contract.type, contract.version, payload, options);
}
