import Anthropic from '@anthropic-ai/sdk';
import { prAnalysisJsonSchema } from '../../../../libs/groq-batch/src/pr-analysis/pr-analysis.schema.js';
import { type PrFixture, prUserText } from '../../../groq-simulator/src/testing/batch-fixtures.js';

export const HAIKU = 'claude-haiku-4-5';
export const SONNET = 'claude-sonnet-4-5';

export interface RequestOptions {
  model?: string;
  maxTokens?: number;
  /** Structured outputs with the PR-analysis schema (default), another schema, or none (null). */
  schema?: Record<string, unknown> | null;
  pr?: PrFixture;
}

/** One Message Batches request as Cascade sends it: system prompt, the PR as the user turn, structured outputs. */
export function batchRequest(customId: string, options: RequestOptions = {}): Anthropic.Messages.BatchCreateParams.Request {
  const schema = options.schema === undefined ? prAnalysisJsonSchema : options.schema;
  const params: Record<string, unknown> = {
    model: options.model ?? HAIKU,
    system: 'You classify GitHub pull requests. Answer with one JSON object that matches the schema.',
    messages: [{ role: 'user', content: prUserText(options.pr) }],
    max_tokens: options.maxTokens ?? 1_024,
    temperature: 0,
  };
  if (schema !== null) params.output_config = { format: { type: 'json_schema', schema } };
  return { custom_id: customId, params: params as unknown as Anthropic.Messages.MessageCreateParamsNonStreaming };
}

export function ids(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
}

export function anthropicClient(url: string, options: { maxRetries?: number } = {}): Anthropic {
  return new Anthropic({ apiKey: 'sk-ant-simulator-test-key', baseURL: url, maxRetries: options.maxRetries ?? 0, timeout: 20_000 });
}

/** Every result of an ended batch, read through the SDK. */
export async function resultsOf(client: Anthropic, batchId: string): Promise<Anthropic.Messages.MessageBatchIndividualResponse[]> {
  const out: Anthropic.Messages.MessageBatchIndividualResponse[] = [];
  for await (const line of await client.messages.batches.results(batchId)) out.push(line);
  return out;
}
