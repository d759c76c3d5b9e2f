import type { ValidateFunction } from 'ajv';
import {
  type CollectedOutcomes,
  detach,
  isObject,
  type Json,
  malformedOutcome,
  readResultLine,
  textOrNull,
  tokenCount,
  collectParsed,
  type LineLocation,
  type LineOutcome,
  type MalformedLine,
  type MalformedOutcome,
  normaliseFailureCode,
  OUR_CODES,
  type ProviderErrorOutcome,
  type Usage,
  validateAnswer,
} from '#groq-batch';

/** Our code for an answer the model declined to give (`stop_reason: "refusal"`); classified as invalid output. */
export const REFUSAL_CODE = OUR_CODES.refusal;

export interface AnthropicParseOptions {
  /** The schema check of the batch's prompt version (`promptRegistry().get(version).validate`). */
  validate: ValidateFunction;
}

const text = textOrNull;
const count = tokenCount;

const malformed = (customId: string, at: LineLocation, raw: string, reason: string): MalformedOutcome => malformedOutcome(customId, at, raw, 'results', reason);

function usageOf(message: Json): Usage {
  const usage = isObject(message.usage) ? message.usage : {};
  return { promptTokens: count(usage.input_tokens), completionTokens: count(usage.output_tokens) };
}

/** The text of a Message: its text blocks joined (a structured answer comes as one block). */
function textOf(message: Json): string | null {
  if (!Array.isArray(message.content)) return null;
  const parts = message.content.filter((block): block is Json => isObject(block) && block.type === 'text' && typeof block.text === 'string').map((block) => block.text as string);
  return parts.length > 0 ? parts.join('') : null;
}

/** A request that did not produce an answer, in the shape Groq's failed lines take. */
function failure(customId: string, at: LineLocation, fields: Pick<ProviderErrorOutcome, 'code' | 'providerCode' | 'type' | 'message'> & Partial<ProviderErrorOutcome>): ProviderErrorOutcome {
  return { kind: 'provider_error', customId, httpStatus: null, failedGeneration: null, usage: null, ...fields, ...at };
}

/**
 * One line of a Message Batch's results into the outcome of its request, in the outcome types of
 * `#groq-batch`: a `succeeded` answer is validated like a Groq one (stop_reason `max_tokens` is
 * `output_too_long`, `refusal` its own code, both billed so usage is kept); an `errored` request is a
 * provider error under its error type; `canceled` and `expired` are `batch_cancelled` / `batch_expired`.
 * The outcome's customId is the Anthropic custom_id: the caller maps it back with `customIdMap`.
 */
export function parseAnthropicResultLine(raw: string, lineNumber: number, options: AnthropicParseOptions): LineOutcome | MalformedLine {
  const at: LineLocation = { source: 'output', lineNumber };
  const read = readResultLine(raw, at, 'results');
  if (!('line' in read)) return read;
  const { line, customId } = read;
  const result = isObject(line.result) ? line.result : null;

  switch (result?.type) {
    case 'succeeded':
      return isObject(result.message) ? answered(customId, at, result.message, options.validate) : malformed(customId, at, raw, 'a succeeded result without a message');
    case 'errored': {
      const envelope = isObject(result.error) ? result.error : {};
      const error = isObject(envelope.error) ? envelope.error : envelope;
      const type = text(error.type) ?? 'unknown_error';
      const message = text(error.message) ?? 'the request failed';
      const requestId = text(envelope.request_id);
      return failure(customId, at, {
        code: normaliseFailureCode({ code: type, message }),
        providerCode: null,
        type,
        message: detach(`${message}${requestId ? ` (request_id ${requestId})` : ''}`, 4_000),
      });
    }
    case 'canceled':
      return failure(customId, at, { code: OUR_CODES.batchCancelled, providerCode: null, type: 'canceled', message: 'the batch was canceled before this request ran' });
    case 'expired':
      return failure(customId, at, { code: OUR_CODES.batchExpired, providerCode: null, type: 'expired', message: 'the batch expired before this request ran' });
    default:
      return malformed(customId, at, raw, `no result of a known type (${JSON.stringify(result?.type ?? null)})`);
  }
}

function answered(customId: string, at: LineLocation, message: Json, validate: ValidateFunction): LineOutcome {
  const content = textOf(message);
  const stopReason = text(message.stop_reason);
  const usage = usageOf(message);
  const model = text(message.model) ?? '';
  const invalid = { kind: 'invalid_output' as const, customId, usage, model, finishReason: stopReason, ...at };
  if (stopReason !== null && normaliseFailureCode({ code: stopReason }) === OUR_CODES.outputTooLong) {
    return { ...invalid, code: OUR_CODES.outputTooLong, message: `the output was cut at max_tokens (stop_reason: ${stopReason})`, raw: detach(content ?? ''), validationErrors: [] };
  }
  if (stopReason === REFUSAL_CODE) {
    // As OpenAI's `message.refusal`: an answer that is not the analysis, billed, for a stronger model to try.
    return { ...invalid, code: OUR_CODES.refusal, message: 'the model declined to answer (stop_reason: refusal)', raw: detach(content ?? ''), validationErrors: [] };
  }
  if (content === null) return { ...invalid, code: OUR_CODES.schemaInvalid, message: 'the message has no text content', raw: '', validationErrors: [] };
  const validated = validateAnswer(content, validate);
  if (!validated.ok) return { ...invalid, code: OUR_CODES.schemaInvalid, message: validated.error, raw: detach(content), validationErrors: validated.errors };
  return { kind: 'succeeded', customId, content, analysis: validated.value, normalised: validated.normalised, usage, model, finishReason: stopReason, ...at };
}

/**
 * Reads a batch's results, in any order, into one outcome per request, by the rule `collectOutcomes` of
 * `#groq-batch` applies to Groq's and OpenAI's files. `requestIdOf` maps a custom_id back to our request id
 * (`customIdMap`); a custom_id it does not know keeps its own, and reconciliation reports it as unexpected.
 */
export function collectAnthropicOutcomes(
  lines: AsyncIterable<string> | Iterable<string>,
  options: AnthropicParseOptions & { requestIdOf?: (customId: string) => string | undefined },
): Promise<CollectedOutcomes> {
  return collectParsed(
    (async function* () {
      let lineNumber = 0;
      for await (const raw of lines) {
        lineNumber++;
        if (raw.trim() === '') continue;
        const parsed = parseAnthropicResultLine(raw, lineNumber, options);
        const requestId = 'customId' in parsed ? options.requestIdOf?.(parsed.customId) : undefined;
        yield requestId === undefined ? parsed : { ...parsed, customId: requestId };
      }
    })(),
  );
}
