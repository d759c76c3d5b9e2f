import { type FailedOutcome, type LineOutcome, type MalformedLine, OUR_CODES, type Usage } from './outcome.js';
import { validatePrAnalysis } from './pr-analysis/validate.js';

interface RawLine {
  custom_id?: unknown;
  response?: {
    status_code?: unknown;
    body?: {
      model?: unknown;
      choices?: Array<{ message?: { content?: unknown }; finish_reason?: unknown }>;
      usage?: { prompt_tokens?: unknown; completion_tokens?: unknown };
      error?: { message?: unknown; type?: unknown; code?: unknown; failed_generation?: unknown };
    } | null;
  } | null;
  error?: { message?: unknown; code?: unknown; type?: unknown } | null;
}

const OUTPUT_TOO_LONG = /max[_ ]?(completion[_ ]?)?tokens|output (was )?(truncated|too long)|finish_reason[^a-z]*length/i;

/** Output-length failures arrive under several codes and messages: normalise them to one code. */
export function isOutputTooLong(code: string | null, message: string): boolean {
  return code === OUR_CODES.outputTooLong || code === 'max_tokens_exceeded' || OUTPUT_TOO_LONG.test(message);
}

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const count = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

function usageOf(body: { usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } } | null | undefined): Usage | null {
  if (!body?.usage) return null;
  return { promptTokens: count(body.usage.prompt_tokens), completionTokens: count(body.usage.completion_tokens) };
}

function failure(customId: string, fields: Partial<FailedOutcome> & { code: string; message: string }): FailedOutcome {
  return { kind: 'failed', customId, httpStatus: null, failedGeneration: null, raw: null, usage: null, ...fields };
}

/**
 * Turns one line of an output or error file into the outcome of its request. A line that cannot be
 * parsed is still attributed to its request when its custom_id can be read from the text.
 */
export function parseBatchLine(raw: string, source: 'output' | 'error', lineNumber: number): LineOutcome | MalformedLine {
  let line: RawLine;
  try {
    line = JSON.parse(raw) as RawLine;
  } catch (error) {
    const salvaged = /"custom_id"\s*:\s*"((?:[^"\\]|\\.)*)"/.exec(raw)?.[1];
    if (salvaged) {
      return failure(JSON.parse(`"${salvaged}"`) as string, {
        code: OUR_CODES.malformedLine,
        message: `${source} file line ${lineNumber} is not JSON: ${(error as Error).message}`,
        raw: raw.slice(0, 16_000),
      });
    }
    return { source, lineNumber, raw: raw.slice(0, 16_000), reason: `not JSON: ${(error as Error).message}` };
  }
  const customId = text(line?.custom_id);
  if (!customId) return { source, lineNumber, raw: raw.slice(0, 16_000), reason: 'no custom_id' };

  const status = typeof line.response?.status_code === 'number' ? line.response.status_code : null;
  const body = line.response?.body ?? null;
  const providerError = body?.error ?? (line.error && line.error !== null ? line.error : null);
  if (status !== 200 || providerError) {
    const message = text(providerError?.message) ?? `request failed${status ? ` with HTTP ${status}` : ''}`;
    const code = text(providerError?.code) ?? text(providerError?.type) ?? (status ? `http_${status}` : 'unknown_error');
    const tooLong = isOutputTooLong(code, message);
    return failure(customId, {
      code: tooLong ? OUR_CODES.outputTooLong : code,
      message: tooLong && code !== OUR_CODES.outputTooLong ? `${code}: ${message}` : message,
      httpStatus: status,
      failedGeneration: text((providerError as { failed_generation?: unknown } | null)?.failed_generation),
      usage: usageOf(body),
    });
  }

  const choice = body?.choices?.[0];
  const content = text(choice?.message?.content);
  const finishReason = text(choice?.finish_reason);
  const usage = usageOf(body) ?? { promptTokens: 0, completionTokens: 0 };
  const model = text(body?.model) ?? '';
  if (finishReason === 'length') {
    return failure(customId, {
      code: OUR_CODES.outputTooLong,
      message: 'the output was cut at max_tokens (finish_reason: length)',
      httpStatus: 200,
      raw: content,
      usage,
    });
  }
  if (content === null) {
    return failure(customId, { code: OUR_CODES.schemaInvalid, message: 'the response has no message content', httpStatus: 200, usage });
  }
  const validated = validatePrAnalysis(content);
  if (!validated.ok) {
    return failure(customId, { code: OUR_CODES.schemaInvalid, message: validated.error, httpStatus: 200, raw: content.slice(0, 16_000), usage });
  }
  return { kind: 'succeeded', customId, analysis: validated.value, usage, model, finishReason };
}

export interface CollectedOutcomes {
  outcomes: Map<string, LineOutcome>;
  /** custom_ids seen more than once, with what each occurrence said: reported, never silently overwritten. */
  duplicates: Array<{ customId: string; kept: LineOutcome['kind']; other: LineOutcome['kind'] }>;
  malformed: MalformedLine[];
  lines: number;
}

/** Reads output and error files line by line (any order), one outcome per custom_id. */
export async function collectOutcomes(sources: Array<{ source: 'output' | 'error'; lines: AsyncIterable<string> | Iterable<string> }>): Promise<CollectedOutcomes> {
  const collected: CollectedOutcomes = { outcomes: new Map(), duplicates: [], malformed: [], lines: 0 };
  for (const { source, lines } of sources) {
    let lineNumber = 0;
    for await (const raw of lines) {
      lineNumber++;
      if (raw.trim() === '') continue;
      collected.lines++;
      const parsed = parseBatchLine(raw, source, lineNumber);
      if (!('kind' in parsed)) {
        collected.malformed.push(parsed);
        continue;
      }
      const earlier = collected.outcomes.get(parsed.customId);
      if (!earlier) {
        collected.outcomes.set(parsed.customId, parsed);
        continue;
      }
      // A valid answer beats a failure for the same request; otherwise the first one stays.
      const keepNew = earlier.kind === 'failed' && parsed.kind === 'succeeded';
      if (keepNew) collected.outcomes.set(parsed.customId, parsed);
      collected.duplicates.push({ customId: parsed.customId, kept: keepNew ? parsed.kind : earlier.kind, other: keepNew ? earlier.kind : parsed.kind });
    }
  }
  return collected;
}
