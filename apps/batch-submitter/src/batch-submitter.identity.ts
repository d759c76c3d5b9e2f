import type { ServiceIdentity } from '#platform';

/** Apart from the definition: `main.ts` names the service (to tracing) before any of its modules is imported. */
export const batchSubmitterIdentity: ServiceIdentity = { name: 'batch-submitter', defaultHttpPort: 3101 };
