import type { ServiceIdentity } from '#platform';

/** Apart from the definition: `main.ts` names the service (to tracing) before any of its modules is imported. */
export const resultWriterIdentity: ServiceIdentity = { name: 'result-writer', defaultHttpPort: 3104 };
