import type { ServiceIdentity } from '#platform';

/** Apart from the definition: `main.ts` names the service (to tracing) before any of its modules is imported. */
export const pollerIdentity: ServiceIdentity = { name: 'poller', defaultHttpPort: 3102 };
