import { z } from 'zod';
import { ModelName, Part, PositiveInt, RequestMetadata, text } from '../../primitives.js';

export const RESULTS_MERGED_TYPE = 'ResultsMerged';

export const TERMINAL_STATUSES = ['succeeded', 'failed', 'excluded'] as const;
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];

export const ResolvedRequest = z.object({
  request: RequestMetadata,
  status: z.enum(TERMINAL_STATUSES),
  model: ModelName.nullable(),
  pass: PositiveInt.nullable(),
  code: text({ max: 100 }).nullable(),
});
export type ResolvedRequest = z.infer<typeof ResolvedRequest>;

/** The final status of every request the result-writer resolved in one step. */
export const ResultsMergedPayload = z.object({
  ...Part,
  resolved: z.array(ResolvedRequest).min(1),
});
export type ResultsMergedPayload = z.infer<typeof ResultsMergedPayload>;
