import { randomUUID } from 'node:crypto';
import { contentDigest, seededRolls, seededUnit, ulidId } from './determinism.js';
import { failureChance, requestSignals } from './failure-model.js';
import type { ModelProfile, OutputTooLongForm, SimulatorApi } from './options.js';
import { analysePullRequest, isPrAnalysisSchema, userText, valueForSchema } from './pr-analysis-content.js';
import { GROQ_STRICT_RULES, OPENAI_STRICT_RULES, strictSchemaProblems } from './strict-schema.js';

/** A chat.completion as Groq writes it (timings, `x_groq`, `reasoning`) or as OpenAI does (`refusal`, token details). */
export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    /** content is null only in an OpenAI refusal. */
    message: { role: 'assistant'; content: string | null; reasoning?: string; refusal?: string | null; annotations?: unknown[] };
    logprobs: null;
    finish_reason: 'stop' | 'length';
  }>;
  usage: {
    prompt_tokens: number;
    completion_tokens: number;
    total_tokens: number;
    queue_time?: number;
    prompt_time?: number;
    completion_time?: number;
    total_time?: number;
    prompt_tokens_details?: { cached_tokens: number; audio_tokens: number };
    completion_tokens_details?: { reasoning_tokens: number; audio_tokens: number; accepted_prediction_tokens: number; rejected_prediction_tokens: number };
  };
  system_fingerprint: string;
  x_groq?: { id: string };
  service_tier: 'batch' | 'default';
}

export interface ApiErrorBody {
  error: { message: string; type: string; code: string | null; param?: string | null; failed_generation?: string };
}

/**
 * What one request line yields. `outcome` is the simulator's own label, kept in the stats: `ok`, the
 * error code, or `schema_violation` / `finish_reason_length` for 200 lines whose content is unusable.
 */
export type LineAnswer = (
  | { statusCode: 200; requestId: string; body: ChatCompletion; outcome: string; deviations?: Deviation[] }
  | { statusCode: number; requestId: string; body: ApiErrorBody; outcome: string }
) & {
  /** What the provider bills for the line: the tokens it read and generated, even when it failed; null if nothing was generated. */
  billed: BilledTokens | null;
};

export interface BilledTokens {
  promptTokens: number;
  completionTokens: number;
}

export interface AnswerContext {
  /** Whose models and line shapes (default groq). */
  api?: SimulatorApi;
  seed: number;
  model: string;
  profile: ModelProfile;
  /** 1 for the first time this simulator sees this request content for this custom_id and model. */
  attempt: number;
  outputTooLongAs: OutputTooLongForm;
  nowSeconds: number;
  /** lineDigest of the input line: what decides the line's fate along with seed, custom_id and model. */
  digest: string;
}

/** As in the error file Groq wrote for the field data (Dec 2025). */
export const JSON_VALIDATE_FAILED_MESSAGE = 'Failed to validate JSON. Please adjust your prompt.';
export const CONTEXT_LENGTH_MESSAGE = 'Please reduce the length of the messages or completion.';
/** OpenAI's wordings, as its API answers them on the synchronous endpoint. */
export const OPENAI_SERVER_ERROR_MESSAGE = 'The server had an error while processing your request. Sorry about that!';
export const OPENAI_REFUSAL = "I'm sorry, but I can't help with that request.";

interface ResponseFormat {
  type?: unknown;
  json_schema?: { name?: unknown; strict?: unknown; schema?: unknown };
}

/**
 * What identifies a request's content: the raw input line minus its max_tokens, so a retry with more
 * room is the same request. Taken from the raw text to avoid serialising the body again; a quote
 * preceded by a backslash is inside a string, so PR text cannot match.
 */
export function lineDigest(rawLine: string): string {
  return contentDigest(rawLine.replace(/(?<!\\)"max(?:_completion)?_tokens"\s*:\s*\d+/g, ''));
}

function promptCharacters(messages: unknown[]): number {
  let chars = 0;
  for (const message of messages as Array<{ content?: unknown }>) {
    if (typeof message?.content === 'string') chars += message.content.length;
    else if (Array.isArray(message?.content)) {
      for (const part of message.content as Array<{ text?: unknown }>) if (typeof part?.text === 'string') chars += part.text.length;
    }
  }
  return chars;
}

// Every line of a batch usually carries the same schema: check each distinct one once.
const strictChecks = new Map<string, string[]>();
function strictProblemsCached(schema: unknown, api: SimulatorApi): string[] {
  const key = `${api}:${JSON.stringify(schema)}`;
  let problems = strictChecks.get(key);
  if (!problems) {
    problems = strictSchemaProblems(schema, '#', api === 'openai' ? OPENAI_STRICT_RULES : GROQ_STRICT_RULES);
    if (strictChecks.size >= 64) strictChecks.delete(strictChecks.keys().next().value!);
    strictChecks.set(key, problems);
  }
  return problems;
}

function apiError(statusCode: number, requestId: string, error: ApiErrorBody['error'], outcome = error.code ?? error.type): LineAnswer {
  return { statusCode, requestId, body: { error }, outcome, billed: null };
}

/** A line that failed after generating: billed for what it read and generated, though its error line reports no usage. */
function billedError(error: LineAnswer, billed: BilledTokens): LineAnswer {
  return { ...error, billed };
}

/** A plausible broken generation: empty (as in the real error file), cut short, wrapped in prose, or off-schema. */
export function failedGeneration(content: string, roll: number): string {
  if (roll < 0.25) return '';
  if (roll < 0.7) return content.slice(0, Math.max(1, Math.floor(content.length * (0.2 + roll * 0.6))));
  if (roll < 0.85) return `Here is the analysis of the pull request:\n\`\`\`json\n${content}\n\`\`\``;
  return content.replace(/"change_type":"[a-z]+"/, '"change_type":"bug fix"').replace(/}$/, ',}');
}

/** Valid JSON that a non-strict model can return although it breaks the schema. */
export function violateSchema(value: unknown, roll: number): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { result: value };
  const copy: Record<string, unknown> = { ...value };
  const keys = Object.keys(copy);
  if (roll < 0.4 && keys.length > 0) delete copy[keys[Math.floor(roll * 2.5 * keys.length)]!];
  else if (roll < 0.7 && 'confidence' in copy) copy.confidence = 'high';
  else if ('change_type' in copy) copy.change_type = 'bug fix';
  else copy.unexpected = true;
  return copy;
}

/**
 * Deviations a schema without `uniqueItems` or `minLength` allows, as the field data showed them
 * (a tool named twice, an empty summary): valid answers, counted apart in the stats.
 */
export type Deviation = 'repeated_item' | 'empty_summary';

export function deviate(value: unknown, profile: Pick<ModelProfile, 'repeatedItemRate' | 'emptySummaryRate'>, rolls: { repeat: number; emptySummary: number }): { value: unknown; deviations: Deviation[] } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { value, deviations: [] };
  const copy: Record<string, unknown> = { ...value };
  const deviations: Deviation[] = [];
  if (rolls.repeat < profile.repeatedItemRate) {
    const key = Object.keys(copy).find((k) => Array.isArray(copy[k]) && (copy[k] as unknown[]).length > 0);
    if (key) {
      const items = copy[key] as unknown[];
      copy[key] = [...items, items[0]];
      deviations.push('repeated_item');
    }
  }
  if (rolls.emptySummary < profile.emptySummaryRate && typeof copy.summary === 'string') {
    copy.summary = '';
    deviations.push('empty_summary');
  }
  return { value: copy, deviations };
}

function reasoningText(content: string): string {
  return `The user wants a JSON classification of the pull request. Reading the title, size and body; ${content.length > 200 ? 'several signals' : 'a few signals'} to weigh. Output the object only.`;
}

/** The refusals of a request that exceeds what the model reads or may write, in each provider's wording. */
function contextTooLong(api: SimulatorApi, requestId: string, contextTokens: number, promptTokens: number): LineAnswer {
  const message =
    api === 'openai'
      ? `This model's maximum context length is ${contextTokens} tokens. However, your messages resulted in ${promptTokens} tokens. Please reduce the length of the messages.`
      : CONTEXT_LENGTH_MESSAGE;
  return apiError(400, requestId, { message, type: 'invalid_request_error', code: 'context_length_exceeded', param: 'messages' });
}

function maxTokensTooLarge(api: SimulatorApi, requestId: string, allowed: number, requested: number): LineAnswer {
  if (api === 'openai') {
    return apiError(400, requestId, {
      message: `max_tokens is too large: ${requested}. This model supports at most ${allowed} completion tokens, whereas you provided ${requested}.`,
      type: 'invalid_request_error',
      code: 'invalid_value',
      param: 'max_tokens',
    });
  }
  return apiError(
    400,
    requestId,
    {
      message: `\`max_tokens\` must be less than or equal to \`${allowed}\`, the maximum value for \`max_tokens\` is less than the \`context_window\` for this model`,
      type: 'invalid_request_error',
      code: null,
      param: 'max_tokens',
    },
    'invalid_max_tokens',
  );
}

/** A transient failure of one line: the roll includes the attempt, so the same line retried usually goes through. */
function serverError(api: SimulatorApi, requestId: string): LineAnswer {
  return api === 'openai'
    ? apiError(500, requestId, { message: OPENAI_SERVER_ERROR_MESSAGE, type: 'server_error', code: null, param: null })
    : apiError(500, requestId, { message: 'Internal Server Error. Please try again later.', type: 'internal_server_error', code: 'internal_server_error' });
}

interface Generated {
  model: string;
  message: ChatCompletion['choices'][number]['message'];
  finishReason: 'stop' | 'length';
  promptTokens: number;
  completionTokens: number;
  reasoningTokens: number;
  requestId: string;
  digest: string;
  customId: string;
}

/** The chat.completion body of a 200 line, in the provider's shape. */
function completion(api: SimulatorApi, generated: Generated, ctx: AnswerContext): ChatCompletion {
  const { promptTokens, completionTokens } = generated;
  const head = {
    id: `chatcmpl-${randomUUID()}`,
    object: 'chat.completion' as const,
    created: ctx.nowSeconds,
    model: generated.model,
    choices: [{ index: 0, message: generated.message, logprobs: null, finish_reason: generated.finishReason }],
  };
  const fingerprint = `fp_${generated.digest.slice(0, 10).toLowerCase().replace(/[^a-z0-9]/g, '0')}`;
  if (api === 'openai') {
    return {
      ...head,
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: generated.reasoningTokens, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      },
      service_tier: 'default',
      system_fingerprint: fingerprint,
    };
  }
  const promptTime = Math.round((promptTokens / 25_000) * 1e6) / 1e6;
  const completionTime = Math.round((completionTokens / 600) * 1e6) / 1e6;
  const queueTime = Math.round(seededUnit(ctx.seed, 'queue', generated.customId) * 0.05 * 1e6) / 1e6;
  return {
    ...head,
    usage: {
      queue_time: queueTime,
      prompt_tokens: promptTokens,
      prompt_time: promptTime,
      completion_tokens: completionTokens,
      completion_time: completionTime,
      total_tokens: promptTokens + completionTokens,
      total_time: Math.round((promptTime + completionTime) * 1e6) / 1e6,
    },
    system_fingerprint: fingerprint,
    x_groq: { id: generated.requestId },
    service_tier: 'batch',
  };
}

/** The assistant message with its content, in the provider's shape (OpenAI always names `refusal`). */
function assistantMessage(api: SimulatorApi, content: string, reasoning: string | null): ChatCompletion['choices'][number]['message'] {
  if (api === 'openai') return { role: 'assistant', content, refusal: null, annotations: [] };
  return reasoning === null ? { role: 'assistant', content } : { role: 'assistant', content, reasoning };
}

/**
 * The simulated model: the answer Groq or OpenAI would write for one batch line, decided from seed,
 * request and model. On OpenAI a cut output is always a 200 line with `finish_reason: "length"`, and
 * `json_validate_failed` (Groq's) never happens: its failing lines are the long ones.
 */
export function answerChatRequest(customId: string, body: Record<string, unknown>, ctx: AnswerContext): LineAnswer {
  const { profile, model } = ctx;
  const api = ctx.api ?? 'groq';
  const requestId = ulidId('req');
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) {
    return apiError(400, requestId, { message: "'messages' : minimum number of items is 1", type: 'invalid_request_error', code: null, param: 'messages' }, 'invalid_request_error');
  }
  const requested = body.max_completion_tokens ?? body.max_tokens;
  const maxTokens = typeof requested === 'number' && requested > 0 ? Math.floor(requested) : null;
  if (maxTokens !== null && maxTokens > profile.maxCompletionTokens) return maxTokensTooLarge(api, requestId, profile.maxCompletionTokens, maxTokens);
  const promptTokens = Math.ceil(promptCharacters(messages) / 4) + 3 * messages.length;
  if (promptTokens > profile.contextTokens) return contextTooLong(api, requestId, profile.contextTokens, promptTokens);

  const format = (typeof body.response_format === 'object' && body.response_format !== null ? body.response_format : {}) as ResponseFormat;
  const jsonMode = format.type === 'json_schema' || format.type === 'json_object';
  const strict = format.type === 'json_schema' && format.json_schema?.strict === true;
  const schema = format.type === 'json_schema' ? format.json_schema?.schema : undefined;
  if (format.type === 'json_schema') {
    const name = format.json_schema?.name;
    if (typeof schema !== 'object' || schema === null || typeof name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
      return apiError(400, requestId, {
        message: "response_format.json_schema needs a 'name' of up to 64 letters, digits, '_' or '-', and a 'schema' object",
        type: 'invalid_request_error',
        code: 'invalid_json_schema',
        param: 'response_format',
      });
    }
  }
  if (strict) {
    if (!profile.supportsStrict) {
      return apiError(400, requestId, {
        message: `json_schema response format with strict: true is not supported with model ${model}; use strict: false or json_object`,
        type: 'invalid_request_error',
        code: 'strict_mode_unsupported',
        param: 'response_format',
      });
    }
    const problems = strictProblemsCached(schema, api);
    if (problems.length > 0) {
      return apiError(400, requestId, {
        message: `invalid JSON schema for strict mode: ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? ` (and ${problems.length - 3} more)` : ''}`,
        type: 'invalid_request_error',
        code: 'invalid_json_schema',
        param: 'response_format',
      });
    }
  }

  const digest = ctx.digest;
  if (seededUnit(ctx.seed, '5xx', customId, model, digest, ctx.attempt) < profile.serverErrorRate) return serverError(api, requestId);

  const [failRoll, kindRoll, lengthRoll, cutRoll, reasoningRoll, violationRoll] = seededRolls(ctx.seed, ['line', customId, model, digest], 6) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const text = userText(messages);
  const salt = `${customId}|${model}`;
  const value = isPrAnalysisSchema(schema) ? analysePullRequest(text, ctx.seed, salt) : valueForSchema(schema, text, ctx.seed, salt);
  let content = JSON.stringify(value);
  const contentTokens = Math.ceil(content.length / 4);
  const reasoningTokens = profile.reasoningTokens > 0 ? Math.round(profile.reasoningTokens * (0.5 + reasoningRoll)) : 0;
  const generated = { model, requestId, digest, customId, promptTokens, reasoningTokens };

  // A refusal is a content decision, like the other content failures: the same request refuses again on the same model.
  if (profile.refusalRate > 0 && seededUnit(ctx.seed, 'refusal', customId, model, digest) < profile.refusalRate) {
    const completionTokens = Math.ceil(OPENAI_REFUSAL.length / 4) + reasoningTokens;
    return {
      statusCode: 200,
      requestId,
      outcome: 'refusal',
      billed: { promptTokens, completionTokens },
      body: completion(api, { ...generated, message: { role: 'assistant', content: null, refusal: OPENAI_REFUSAL, annotations: [] }, finishReason: 'stop', completionTokens }, ctx),
    };
  }

  // Signals are read only under the features model, so the random profile costs what it did.
  const chance = profile.failureModel === 'features' ? failureChance('features', profile.failureRate, requestSignals(text, promptTokens)) : profile.failureRate;
  const failing = failRoll < chance;
  const jsonValidateFailed = api === 'groq' && failing && kindRoll < profile.jsonValidateShare;
  if (jsonValidateFailed && jsonMode) {
    return billedError(apiError(400, requestId, {
      message: JSON_VALIDATE_FAILED_MESSAGE,
      type: 'invalid_request_error',
      code: 'json_validate_failed',
      failed_generation: failedGeneration(content, cutRoll),
    }), { promptTokens, completionTokens: contentTokens + reasoningTokens });
  }
  // Whether a line runs out of room depends only on the requested max_tokens against what it generates,
  // so the same line retried with a larger max_tokens succeeds.
  const longOutput = failing && (api === 'openai' || kindRoll >= profile.jsonValidateShare);
  const generatedTokens = longOutput ? Math.round(profile.longOutputTokens * (0.8 + 0.5 * lengthRoll)) : contentTokens + reasoningTokens;
  const outputTooLongAs = api === 'openai' ? 'finish_reason_length' : ctx.outputTooLongAs;
  let finishReason: 'stop' | 'length' = 'stop';
  let outcome = 'ok';
  let completionTokens = generatedTokens;
  if (maxTokens !== null && generatedTokens > maxTokens) {
    const cut = content.slice(0, Math.min(content.length - 1, Math.floor((content.length * maxTokens) / generatedTokens)));
    if (outputTooLongAs === 'error') {
      return billedError(apiError(400, requestId, {
        message: `The model reached max_tokens (${maxTokens}) before it finished the JSON output (finish_reason: length). Please increase max_tokens.`,
        type: 'invalid_request_error',
        code: 'max_tokens_exceeded',
        param: 'max_tokens',
        failed_generation: cut,
      }), { promptTokens, completionTokens: maxTokens });
    }
    content = cut;
    finishReason = 'length';
    completionTokens = maxTokens;
    outcome = 'finish_reason_length';
  } else if (jsonMode && !strict && violationRoll < profile.schemaViolationRate) {
    content = JSON.stringify(violateSchema(value, violationRoll / Math.max(profile.schemaViolationRate, 1e-9)));
    outcome = 'schema_violation';
  }
  let deviations: Deviation[] = [];
  if (outcome === 'ok' && (profile.repeatedItemRate > 0 || profile.emptySummaryRate > 0)) {
    const deviated = deviate(value, profile, {
      repeat: seededUnit(ctx.seed, 'repeat', customId, model, digest),
      emptySummary: seededUnit(ctx.seed, 'empty-summary', customId, model, digest),
    });
    if (deviated.deviations.length > 0) {
      content = JSON.stringify(deviated.value);
      deviations = deviated.deviations;
    }
  }

  return {
    statusCode: 200,
    requestId,
    outcome,
    ...(deviations.length > 0 ? { deviations } : {}),
    billed: { promptTokens, completionTokens },
    body: completion(api, { ...generated, message: assistantMessage(api, content, reasoningTokens > 0 ? reasoningText(content) : null), finishReason, completionTokens }, ctx),
  };
}
