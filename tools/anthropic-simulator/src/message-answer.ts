import { seededRolls, seededUnit } from '../../groq-simulator/src/determinism.js';
import { type BilledTokens, type Deviation, deviate, failedGeneration, violateSchema } from '../../groq-simulator/src/line-answer.js';
import { analysePullRequest, isPrAnalysisSchema, userText, valueForSchema } from '../../groq-simulator/src/pr-analysis-content.js';
import { anthropicId } from './http.js';
import type { AnthropicModelProfile } from './options.js';
import { structuredSchemaProblems } from './structured-schema.js';

/** The Message a succeeded request carries. */
export interface ClaudeMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: Array<{ type: 'text'; text: string }>;
  stop_reason: 'end_turn' | 'max_tokens' | 'refusal';
  stop_sequence: null;
  usage: {
    input_tokens: number;
    output_tokens: number;
    cache_creation_input_tokens: 0;
    cache_read_input_tokens: 0;
    service_tier: 'batch';
  };
}

export interface ErroredResult {
  type: 'errored';
  error: { type: 'error'; error: { type: string; message: string }; request_id: string | null };
}

export type RequestResult = { type: 'succeeded'; message: ClaudeMessage } | ErroredResult | { type: 'canceled' } | { type: 'expired' };

/**
 * What one request yields. `outcome` is the simulator's own label kept in the stats: `ok`,
 * `invalid_json`, `schema_violation`, `max_tokens`, `refusal`, or the error type of an errored result.
 */
export interface RequestAnswer {
  result: RequestResult;
  outcome: string;
  /** Billed tokens: only succeeded requests are billed; null otherwise. */
  billed: BilledTokens | null;
  deviations: Deviation[];
}

export interface AnswerContext {
  seed: number;
  model: string;
  /** Undefined for a model this simulator does not know. */
  profile: AnthropicModelProfile | undefined;
  /** 1 for the first time this simulator runs this content for this custom_id and model. */
  attempt: number;
  /** Digest of the request's params without max_tokens: with seed, custom_id and model, what decides its fate. */
  digest: string;
}

const REFUSAL_TEXT = "I can't help with analysing this pull request.";

function errored(type: string, message: string): RequestAnswer {
  return { result: { type: 'errored', error: { type: 'error', error: { type, message }, request_id: anthropicId('req') } }, outcome: type, billed: null, deviations: [] };
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return (content as Array<{ text?: unknown }>).map((block) => (typeof block?.text === 'string' ? block.text : '')).join('\n');
}

/** Prompt tokens as this simulator estimates them: characters / 4, plus 3 per message. */
function promptTokensOf(system: unknown, messages: unknown[]): number {
  let chars = textOf(system).length;
  for (const message of messages as Array<{ content?: unknown }>) chars += textOf(message?.content).length;
  return Math.ceil(chars / 4) + 3 * messages.length;
}

// Every request of a batch usually carries the same schema: check each distinct one once.
const schemaChecks = new Map<string, string[]>();
function schemaProblemsCached(schema: unknown): string[] {
  const key = JSON.stringify(schema);
  let problems = schemaChecks.get(key);
  if (!problems) {
    problems = structuredSchemaProblems(schema);
    if (schemaChecks.size >= 64) schemaChecks.delete(schemaChecks.keys().next().value!);
    schemaChecks.set(key, problems);
  }
  return problems;
}

/** The checks Anthropic makes on `params` (asynchronously, in a batch): a problem comes back as an `invalid_request_error` result. */
function paramsProblem(params: Record<string, unknown>, ctx: AnswerContext): string | null {
  const { model, profile } = ctx;
  if (typeof params.model !== 'string' || params.model === '') return 'model: Field required';
  if (!profile) return `model: ${model} is not a model this API serves`;
  if (!Array.isArray(params.messages) || params.messages.length === 0) return 'messages: Field required';
  const maxTokens = params.max_tokens;
  if (maxTokens === undefined) return 'max_tokens: Field required';
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 1) return 'max_tokens: Input should be an integer greater than or equal to 1';
  if (maxTokens > profile.maxOutputTokens) {
    return `max_tokens: ${maxTokens} > ${profile.maxOutputTokens}, which is the maximum allowed number of output tokens for ${model}`;
  }
  const promptTokens = promptTokensOf(params.system, params.messages);
  if (promptTokens + maxTokens > profile.contextTokens) return `prompt is too long: ${promptTokens} tokens > ${profile.contextTokens - maxTokens} maximum`;
  const format = (params.output_config as { format?: unknown } | undefined)?.format;
  if (format !== undefined && format !== null) {
    const { type, schema } = format as { type?: unknown; schema?: unknown };
    if (type !== 'json_schema') return `output_config.format.type: Input should be 'json_schema'`;
    if (!profile.supportsStructuredOutputs) return `output_config.format: structured outputs are not supported on ${model}`;
    const problems = schemaProblemsCached(schema);
    if (problems.length > 0) return `output_config.format.schema: ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? ` (and ${problems.length - 3} more)` : ''}`;
  }
  return null;
}

/** The simulated Claude model: the result Anthropic would give one batch request, decided from seed, request and model. */
export function answerMessageRequest(customId: string, params: Record<string, unknown>, ctx: AnswerContext): RequestAnswer {
  const problem = paramsProblem(params, ctx);
  if (problem) return errored('invalid_request_error', problem);
  const profile = ctx.profile!;
  const { model, digest } = ctx;
  // Transient by design: the roll includes the attempt, so the same request retried usually goes through.
  const serverRoll = seededUnit(ctx.seed, '5xx', customId, model, digest, ctx.attempt);
  if (serverRoll < profile.serverErrorRate) {
    return serverRoll < profile.serverErrorRate / 2
      ? errored('api_error', 'Internal server error')
      : errored('overloaded_error', 'Overloaded');
  }

  const messages = params.messages as unknown[];
  const maxTokens = params.max_tokens as number;
  const promptTokens = promptTokensOf(params.system, messages);
  const schema = (params.output_config as { format?: { schema?: unknown } } | undefined)?.format?.schema;
  const structured = schema !== undefined;
  const [failRoll, kindRoll, lengthRoll, cutRoll, violationRoll, refusalRoll] = seededRolls(ctx.seed, ['request', customId, model, digest], 6) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const succeeded = (text: string, stopReason: ClaudeMessage['stop_reason'], outputTokens: number, outcome: string, deviations: Deviation[] = []): RequestAnswer => ({
    result: {
      type: 'succeeded',
      message: {
        id: anthropicId('msg'),
        type: 'message',
        role: 'assistant',
        model,
        content: [{ type: 'text', text }],
        stop_reason: stopReason,
        stop_sequence: null,
        usage: { input_tokens: promptTokens, output_tokens: outputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, service_tier: 'batch' },
      },
    },
    outcome,
    billed: { promptTokens, completionTokens: outputTokens },
    deviations,
  });

  if (refusalRoll < profile.refusalRate) return succeeded(REFUSAL_TEXT, 'refusal', Math.ceil(REFUSAL_TEXT.length / 4), 'refusal');

  const text = userText(messages);
  const salt = `${customId}|${model}`;
  const value = isPrAnalysisSchema(schema) ? analysePullRequest(text, ctx.seed, salt) : valueForSchema(schema, text, ctx.seed, salt);
  const content = JSON.stringify(value);
  const contentTokens = Math.ceil(content.length / 4);
  const failing = failRoll < profile.failureRate;
  const unusable = failing && kindRoll < profile.invalidOutputShare;

  // Structured outputs constrain decoding: the answers that would have been unusable follow the schema instead.
  if (unusable && !structured) {
    const notJson = cutRoll < 0.5;
    // A broken generation as failedGeneration makes it, minus its empty variant: Claude always says something.
    const broken = notJson ? failedGeneration(content, 0.25 + cutRoll * 1.5) : JSON.stringify(violateSchema(value, cutRoll));
    return succeeded(broken, 'end_turn', Math.ceil(broken.length / 4), notJson ? 'invalid_json' : 'schema_violation');
  }
  // Whether a request runs out of room depends only on its max_tokens against what it generates,
  // so the same request retried with a larger max_tokens succeeds.
  const longOutput = failing && !unusable;
  const generated = longOutput ? Math.round(profile.longOutputTokens * (0.8 + 0.5 * lengthRoll)) : contentTokens;
  if (generated > maxTokens) {
    const cut = content.slice(0, Math.min(content.length - 1, Math.floor((content.length * maxTokens) / generated)));
    return succeeded(cut, 'max_tokens', maxTokens, 'max_tokens');
  }
  if (!structured && violationRoll < profile.schemaViolationRate) {
    return succeeded(JSON.stringify(violateSchema(value, violationRoll / profile.schemaViolationRate)), 'end_turn', contentTokens, 'schema_violation');
  }
  const deviated = deviate(value, profile, {
    repeat: seededUnit(ctx.seed, 'repeat', customId, model, digest),
    emptySummary: seededUnit(ctx.seed, 'empty-summary', customId, model, digest),
  });
  const answer = deviated.deviations.length > 0 ? JSON.stringify(deviated.value) : content;
  return succeeded(answer, 'end_turn', Math.ceil(answer.length / 4), 'ok', deviated.deviations);
}

