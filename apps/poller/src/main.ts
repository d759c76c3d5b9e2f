import { launchService } from '#platform/launch';
import { pollerIdentity } from './poller.identity.js';

await launchService(pollerIdentity, async () => (await import('./poller.definition.js')).pollerDefinition);
