import type { ServiceIdentity } from '#platform';

/** Apart from the definition: `main.ts` names the service (to tracing) before any of its modules is imported. */
export const retryServiceIdentity: ServiceIdentity = { name: 'retry-service', defaultHttpPort: 3103 };
