import { collectAnthropicOutcomes } from '#anthropic-batch';
import {
  anthropicClientFrom,
  batchProvidersFrom,
  databaseRecords,
  groqClientFrom,
  type LineBuilder,
  openAiClientFrom,
  type ProviderName,
  ProviderSet,
  type SubmissionEnv,
} from '#batching';
import { type CollectedOutcomes, collectOutcomes, type PromptRegistry } from '#groq-batch';
import type { DataSource } from 'typeorm';

/**
 * One provider's on-demand path: the line builder its batches use, its on-demand API answering one line's
 * body as the provider's batch result line would hold it, and the provider's own results parser reading those lines.
 */
export interface OnDemandAnswerer {
  readonly name: ProviderName;
  readonly buildLine: LineBuilder;
  /** `customId` is the request id: the answers are read back by it. */
  answer(customId: string, body: Record<string, unknown>): Promise<string>;
  /** Validates each answer against the prompt version's schema and files each failure, as a batch's results are. */
  collect(lines: readonly string[], promptVersion: string): Promise<CollectedOutcomes>;
}

/**
 * Every provider the services submit to, answering on demand through its SDK (groq-sdk's and openai's
 * `chat.completions.create`, Anthropic's `messages.create`) with exactly the body its batch line has: one schema.
 */
export function onDemandAnswerersFrom(env: SubmissionEnv, prompts: PromptRegistry, dataSource: DataSource): ProviderSet<OnDemandAnswerer> {
  const chatCollect = (lines: readonly string[], promptVersion: string) => collectOutcomes([{ source: 'output', lines }], { promptVersion, registry: prompts });
  const answerers = batchProvidersFrom(env, prompts, databaseRecords(dataSource))
    .all()
    .map((provider): OnDemandAnswerer => {
      switch (provider.name) {
        case 'groq': {
          const client = groqClientFrom(env);
          return { name: provider.name, buildLine: provider.buildLine, answer: (id, body) => client.answerOnDemand(id, body), collect: chatCollect };
        }
        case 'openai': {
          const client = openAiClientFrom(env);
          return { name: provider.name, buildLine: provider.buildLine, answer: (id, body) => client.answerOnDemand(id, body), collect: chatCollect };
        }
        case 'anthropic': {
          const client = anthropicClientFrom(env);
          return {
            name: provider.name,
            buildLine: provider.buildLine,
            answer: (id, body) => client.answerOnDemand(id, body),
            collect: (lines, promptVersion) => collectAnthropicOutcomes(lines, { validate: prompts.get(promptVersion).validate }),
          };
        }
      }
    });
  return new ProviderSet(answerers);
}
