/** What the ops routes need from the poller's configuration. */
export const OPS_SETTINGS = Symbol('OPS_SETTINGS');

export interface OpsSettings {
  modelChain: string[];
  cacheTtlHours: number;
  stageDeadlineMs: number;
  strongModel: string;
  topicPrefix: string;
  /** Consumer groups whose lag the dashboard shows. */
  groups: string[];
}
