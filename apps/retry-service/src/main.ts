import { launchService } from '#platform/launch';
import { retryServiceIdentity } from './retry-service.identity.js';

await launchService(retryServiceIdentity, async () => (await import('./retry-service.definition.js')).retryServiceDefinition);
