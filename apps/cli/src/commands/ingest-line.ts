import { contractOf, createEvent, type EventEnvelope, PrIngestedPayload, type PrIngestedPayload as PrPayload, Topic } from '#contracts';

export interface LineProblem {
  line: number;
  requestId: string | null;
  problem: string;
}

/** One JSONL line: either a bare `pr.ingested.v1` payload or a whole event envelope. */
export function parsePrLine(text: string, lineNumber: number, correlationPrefix: string): EventEnvelope<PrPayload> | LineProblem {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { line: lineNumber, requestId: null, problem: `not JSON: ${(error as Error).message}` };
  }
  const requestId =
    typeof json === 'object' && json !== null
      ? String((json as { requestId?: unknown; payload?: { requestId?: unknown } }).requestId ?? (json as { payload?: { requestId?: unknown } }).payload?.requestId ?? '') || null
      : null;
  const isEnvelope = typeof json === 'object' && json !== null && 'payload' in json && 'eventId' in json;
  const schema = isEnvelope ? contractOf(Topic.PrIngested).envelope : PrIngestedPayload;
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { line: lineNumber, requestId, problem: `${issue.path.join('.') || '(line)'}: ${issue.message}` };
  }
  if (isEnvelope) return parsed.data as EventEnvelope<PrPayload>;
  const payload = parsed.data as PrPayload;
  return createEvent(Topic.PrIngested, payload, { correlationId: `${correlationPrefix}${payload.requestId}`, producer: 'cascade-cli' });
}
