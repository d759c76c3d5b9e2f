/** What the ops routes need from the poller's configuration. */
export const OPS_SETTINGS = Symbol('OPS_SETTINGS');

export interface OpsSettings {
  modelChain: string[];
  cacheTtlHours: number;
  /** Whether `GET /requests/{id}` includes the stored (guarded) PR text. */
  showPrText: boolean;
  stageDeadlineMs: number;
  strandedAfterMs: number;
  /** PROMPT_VERSION: the version of PRs that name none. */
  defaultPromptVersion: string;
  strongModel: string;
  /** MODEL_PRICES_JSON, for the always-strong-model comparison. */
  modelPrices: string | undefined;
  topicPrefix: string;
  /** Consumer groups whose lag the dashboard shows, with the physical topics each consumes. */
  groups: Array<{ service: string; groupId: string; topics: string[] }>;
}
