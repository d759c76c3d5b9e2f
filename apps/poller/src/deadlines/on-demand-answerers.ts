import { batchProvidersFrom, databaseRecords, groqClientFrom, type LineBuilder, openAiClientFrom, type ProviderName, ProviderSet, type SubmissionEnv } from '#batching';
import type { PromptRegistry } from '#groq-batch';
import type { DataSource } from 'typeorm';

/** One provider's on-demand path: the line builder its batches use, and its chat API answering one line's body. */
export interface OnDemandAnswerer {
  readonly name: ProviderName;
  readonly buildLine: LineBuilder;
  /** The answer as the provider's batch result line would hold it (see `answerOnDemand`). */
  answer(customId: string, body: Record<string, unknown>): Promise<string>;
}

/**
 * The providers a request can be answered on demand by: Groq and OpenAI, through their SDKs' chat
 * completions with exactly the body their batch line has (one schema). Anthropic is not among them yet: its
 * batch results are tied to their batch by custom ids that carry the batch key, which an on-demand answer
 * would have to imitate; its requests keep waiting for their batch.
 */
export function onDemandAnswerersFrom(env: SubmissionEnv, prompts: PromptRegistry, dataSource: DataSource): ProviderSet<OnDemandAnswerer> {
  const answerers = batchProvidersFrom(env, prompts, databaseRecords(dataSource))
    .all()
    .flatMap((provider): OnDemandAnswerer[] => {
      switch (provider.name) {
        case 'groq': {
          const client = groqClientFrom(env);
          return [{ name: provider.name, buildLine: provider.buildLine, answer: (id, body) => client.answerOnDemand(id, body) }];
        }
        case 'openai': {
          const client = openAiClientFrom(env);
          return [{ name: provider.name, buildLine: provider.buildLine, answer: (id, body) => client.answerOnDemand(id, body) }];
        }
        case 'anthropic':
          return [];
      }
    });
  return new ProviderSet(answerers);
}
