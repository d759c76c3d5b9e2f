import { isOutputTooLong } from './classify.js';
import { detach, isObject, type Json, malformedOutcome, readResultLine, textOrNull, tokenCount } from './line-reading.js';
import {
  type FileKind,
  type LineLocation,
  type LineOutcome,
  type MalformedLine,
  type MalformedOutcome,
  OUR_CODES,
  type ProviderErrorOutcome,
  type Usage,
} from './outcome.js';
import { DEFAULT_PROMPT_VERSION } from './pr-analysis/pr-analysis.schema.js';
import { type PromptRegistry, promptRegistry } from './pr-analysis/prompt-registry.js';
import { validateAnswer } from './pr-analysis/validate.js';


/** How the lines of one batch are read: its answers are checked against its prompt version's schema. */
export interface ParseOptions {
  /** The batch's prompt version (default pr-analysis-v1); an unknown one throws before any line is read. */
  promptVersion?: string;
  /** Where the versions are read: a service passes the registry of its PROMPTS_DIR (default: the shipped `prompts/` folder). */
  registry?: PromptRegistry;
}

function checkerFor(options: ParseOptions) {
  return (options.registry ?? promptRegistry()).get(options.promptVersion ?? DEFAULT_PROMPT_VERSION).validate;
}

const text = textOrNull;
const count = tokenCount;

/** Model names repeat on every line: one copy each. */
const internedModels = new Map<string, string>();
function intern(model: string): string {
  const known = internedModels.get(model);
  if (known !== undefined) return known;
  if (internedModels.size < 1_000) internedModels.set(model, model);
  return model;
}

function usageOf(body: Json | null): Usage | null {
  if (!body || !isObject(body.usage)) return null;
  return { promptTokens: count(body.usage.prompt_tokens), completionTokens: count(body.usage.completion_tokens) };
}

const malformed = (customId: string, at: LineLocation, raw: string, reason: string): MalformedOutcome =>
  malformedOutcome(customId, at, raw, `${at.source} file`, reason);

/**
 * Turns one line of an output or error file into the outcome of its request, in Groq's and OpenAI's
 * formats (they share one: `{id, custom_id, response:{status_code, request_id, body}|null,
 * error:{code, message}|null}`; OpenAI's lines that never got an HTTP answer carry `error` only, with
 * `batch_expired`, `batch_cancelled` or `request_timeout`). A line that cannot be
 * parsed is still attributed to its request when its custom_id can be read from the text.
 */
export function parseBatchLine(raw: string, source: FileKind, lineNumber: number, options: ParseOptions = {}): LineOutcome | MalformedLine {
  return parseLine(raw, source, lineNumber, checkerFor(options));
}

function parseLine(raw: string, source: FileKind, lineNumber: number, check: ReturnType<typeof checkerFor>): LineOutcome | MalformedLine {
  const at: LineLocation = { source, lineNumber };
  const read = readResultLine(raw, at, `${source} file`);
  if (!('line' in read)) return read;
  const { line, customId } = read;

  const response = isObject(line.response) ? line.response : null;
  const status = typeof response?.status_code === 'number' ? response.status_code : null;
  const body = isObject(response?.body) ? response.body : null;
  const bodyError = isObject(body?.error) ? body.error : null;
  const lineError = isObject(line.error) ? line.error : null;

  if (bodyError || lineError || (status !== null && status !== 200)) {
    const error = bodyError ?? lineError ?? {};
    const providerCode = text(error.code);
    const type = text(error.type);
    const message = text(error.message) ?? `request failed${status !== null ? ` with HTTP ${status}` : ''}`;
    const given = providerCode ?? type ?? (status !== null ? `http_${status}` : 'unknown_error');
    const failedGeneration = text(error.failed_generation);
    const failure: ProviderErrorOutcome = {
      kind: 'provider_error',
      customId,
      httpStatus: status,
      code: isOutputTooLong({ code: providerCode, message }) ? OUR_CODES.outputTooLong : given,
      providerCode,
      type,
      message: detach(message, 4_000),
      failedGeneration: failedGeneration === null ? null : detach(failedGeneration),
      usage: usageOf(body),
      ...at,
    };
    return failure;
  }
  if (status === null) return malformed(customId, at, raw, 'neither a response status nor an error');

  const choices = Array.isArray(body?.choices) ? body.choices : null;
  const choice = choices && isObject(choices[0]) ? choices[0] : null;
  if (!body || !choice) return malformed(customId, at, raw, 'a 200 response without choices');
  const message = isObject(choice.message) ? choice.message : null;
  const content = text(message?.content);
  const finishReason = text(choice.finish_reason);
  const usage = usageOf(body) ?? { promptTokens: 0, completionTokens: 0 };
  const model = intern(text(body.model) ?? '');
  const invalid = { kind: 'invalid_output' as const, customId, usage, model, finishReason, ...at };

  if (isOutputTooLong({ finishReason })) {
    return {
      ...invalid,
      code: OUR_CODES.outputTooLong,
      message: 'the output was cut at max_tokens (finish_reason: length)',
      raw: content ?? '',
      validationErrors: [],
    };
  }
  // Strict structured outputs answer a refusal in its own field, with no content to validate.
  const refusal = text(message?.refusal);
  if (refusal) {
    return { ...invalid, code: OUR_CODES.refusal, message: `the model refused: ${detach(refusal, 1_000)}`, raw: detach(refusal), validationErrors: [] };
  }
  if (content === null) {
    return { ...invalid, code: OUR_CODES.schemaInvalid, message: 'the response has no message content', raw: '', validationErrors: [] };
  }
  const validated = validateAnswer(content, check);
  if (!validated.ok) {
    return { ...invalid, code: OUR_CODES.schemaInvalid, message: validated.error, raw: detach(content), validationErrors: validated.errors };
  }
  return { kind: 'succeeded', customId, content, analysis: validated.value, normalised: validated.normalised, usage, model, finishReason, ...at };
}

/** An output or error file as a sequence of lines (e.g. `client.fileLines(id)`). */
export interface OutcomeSource {
  source: FileKind;
  lines: AsyncIterable<string> | Iterable<string>;
}

/** Parses the lines of each source in turn, yielding one result per non-empty line. */
export async function* parseBatchLines(sources: readonly OutcomeSource[], options: ParseOptions = {}): AsyncGenerator<LineOutcome | MalformedLine> {
  const check = checkerFor(options);
  for (const { source, lines } of sources) {
    let lineNumber = 0;
    for await (const raw of lines) {
      lineNumber++;
      if (raw.trim() === '') continue;
      yield parseLine(raw, source, lineNumber, check);
    }
  }
}

/** The same custom_id read twice: which reading was kept and which was not. */
export interface DuplicateLine {
  customId: string;
  kept: LineOutcome['kind'];
  other: LineOutcome['kind'];
  keptAt: LineLocation;
  otherAt: LineLocation;
}

export interface CollectedOutcomes {
  /** One outcome per custom_id found in the files. */
  outcomes: Map<string, LineOutcome>;
  /** custom_ids seen more than once: reported, never silently overwritten. */
  duplicates: DuplicateLine[];
  /** Lines that could not be attributed to any request. */
  malformed: MalformedLine[];
  /** Non-empty lines read, per file. */
  lines: number;
  linesBySource: Record<FileKind, number>;
}

const isOutcome = (parsed: LineOutcome | MalformedLine): parsed is LineOutcome => 'kind' in parsed;
const location = (outcome: LineOutcome): LineLocation => ({ source: outcome.source, lineNumber: outcome.lineNumber });

/**
 * Reads output and error files line by line, in any order, into one outcome per custom_id. When an
 * id appears twice, a valid answer beats a failure (it was paid for and is usable); otherwise the
 * first reading stays. Either way the duplicate is reported.
 */
export async function collectOutcomes(sources: readonly OutcomeSource[], options: ParseOptions = {}): Promise<CollectedOutcomes> {
  return collectParsed(parseBatchLines(sources, options));
}

/** The rule of `collectOutcomes` over lines already parsed, whatever the provider's line format. */
export async function collectParsed(lines: AsyncIterable<LineOutcome | MalformedLine>): Promise<CollectedOutcomes> {
  const collected: CollectedOutcomes = { outcomes: new Map(), duplicates: [], malformed: [], lines: 0, linesBySource: { output: 0, error: 0 } };
  for await (const parsed of lines) {
    collected.lines++;
    collected.linesBySource[parsed.source]++;
    if (!isOutcome(parsed)) {
      collected.malformed.push(parsed);
      continue;
    }
    const earlier = collected.outcomes.get(parsed.customId);
    if (!earlier) {
      collected.outcomes.set(parsed.customId, parsed);
      continue;
    }
    const keepNew = earlier.kind !== 'succeeded' && parsed.kind === 'succeeded';
    const [kept, other] = keepNew ? [parsed, earlier] : [earlier, parsed];
    if (keepNew) collected.outcomes.set(parsed.customId, parsed);
    collected.duplicates.push({ customId: parsed.customId, kept: kept.kind, other: other.kind, keptAt: location(kept), otherAt: location(other) });
  }
  return collected;
}
