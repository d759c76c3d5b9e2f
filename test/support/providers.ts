import { type BatchProviderPort, type LineBuilder, PROVIDER_BATCH_LIMITS, prAnalysisLineBuilder, ProviderSet } from '#batching';
import { promptRegistry } from '#groq-batch';

/** The provider set of a Groq-only service around one port (the real client, or a wrapper that injects faults). */
export function groqProviders(port: BatchProviderPort, buildLine: LineBuilder = prAnalysisLineBuilder(promptRegistry())): ProviderSet {
  return new ProviderSet([{ name: 'groq', port, buildLine, limits: PROVIDER_BATCH_LIMITS.groq }]);
}
