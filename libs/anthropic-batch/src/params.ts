/** A JSON schema as Cascade's prompt versions write them. */
export type JsonSchema = Record<string, unknown>;

/** The OpenAI-style chat-completions body Cascade builds for a request (see `buildPrAnalysisRequest`). */
export interface ChatCompletionsBody {
  model: string;
  messages: ReadonlyArray<{ role: string; content: string }>;
  max_tokens?: number;
  max_completion_tokens?: number;
  temperature?: number;
  response_format?:
    | { type: 'json_schema'; json_schema: { name?: string; strict?: boolean; schema: JsonSchema } }
    | { type: 'json_object' }
    | { type: 'text' };
}

/** The Messages API params of one batch request (a subset of the SDK's MessageCreateParamsNonStreaming). */
export interface AnthropicMessageParams {
  model: string;
  max_tokens: number;
  system?: string;
  messages: Array<{ role: 'user' | 'assistant'; content: string }>;
  temperature?: number;
  output_config?: { format: { type: 'json_schema'; schema: JsonSchema } };
}

/**
 * Keywords structured outputs refuse (Anthropic's structured-outputs guide: numeric and string-length
 * bounds, array bounds beyond `minItems` 0/1) or may refuse (`pattern` with lookarounds, `uniqueItems`,
 * object size bounds). Leaving them out is safe: our own validation checks the full schema on return.
 */
const DROPPED_KEYWORDS = new Set([
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'pattern',
  'maxItems',
  'uniqueItems',
  'minProperties',
  'maxProperties',
]);
const SUPPORTED_FORMATS = new Set(['date-time', 'time', 'date', 'duration', 'email', 'hostname', 'uri', 'ipv4', 'ipv6', 'uuid']);
/** Keywords whose value is one schema, a list of schemas, or a map of named schemas. */
const SCHEMA_VALUED = new Set(['items', 'additionalItems', 'not']);
const SCHEMA_LISTS = new Set(['anyOf', 'allOf', 'oneOf', 'prefixItems']);
const SCHEMA_MAPS = new Set(['properties', '$defs', 'definitions']);

const isNode = (value: unknown): value is JsonSchema => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The schema reduced to what Anthropic's structured outputs accept: unsupported keywords left out,
 * unknown string formats left out, and `additionalProperties: false` on every object (required there).
 */
export function toAnthropicSchema(schema: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (DROPPED_KEYWORDS.has(key)) continue;
    if (key === 'minItems' && !(value === 0 || value === 1)) continue;
    if (key === 'format' && !SUPPORTED_FORMATS.has(String(value))) continue;
    if (SCHEMA_VALUED.has(key) && isNode(value)) out[key] = toAnthropicSchema(value);
    else if (SCHEMA_LISTS.has(key) && Array.isArray(value)) out[key] = value.map((branch) => (isNode(branch) ? toAnthropicSchema(branch) : branch));
    else if (SCHEMA_MAPS.has(key) && isNode(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, child]) => [name, isNode(child) ? toAnthropicSchema(child) : child]));
    } else out[key] = value;
  }
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  if (types.includes('object') || isNode(schema.properties)) out.additionalProperties = false;
  return out;
}

/**
 * The Messages params for one chat-completions body: system turns become `system`, the rest stay
 * `messages`, `max_tokens` (or `max_completion_tokens`) and `temperature` carry over, and a
 * `json_schema` response format becomes structured outputs. `json_object` has no Anthropic
 * counterpart: the prompt asks for JSON, and the answer is validated on return either way.
 */
export function toAnthropicParams(body: ChatCompletionsBody): AnthropicMessageParams {
  const maxTokens = body.max_tokens ?? body.max_completion_tokens;
  if (!Number.isInteger(maxTokens) || maxTokens! < 1) {
    throw new RangeError(`max_tokens must be a positive integer for an Anthropic request (got ${String(maxTokens)}) for model ${body.model}`);
  }
  const system = body.messages.filter((m) => m.role === 'system').map((m) => m.content);
  const messages = body.messages
    .filter((m) => m.role !== 'system')
    .map((m) => {
      if (m.role !== 'user' && m.role !== 'assistant') throw new RangeError(`message role ${m.role} has no Anthropic counterpart`);
      return { role: m.role, content: m.content } as const;
    });
  if (messages.length === 0) throw new RangeError(`an Anthropic request needs a user message (model ${body.model})`);
  const params: AnthropicMessageParams = { model: body.model, max_tokens: maxTokens!, messages };
  if (system.length > 0) params.system = system.join('\n\n');
  if (body.temperature !== undefined) params.temperature = body.temperature;
  const format = body.response_format;
  if (format?.type === 'json_schema') params.output_config = { format: { type: 'json_schema', schema: toAnthropicSchema(format.json_schema.schema) } };
  return params;
}
