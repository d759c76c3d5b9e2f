import { launchService } from '#platform/launch';
import { batchSubmitterIdentity } from './batch-submitter.identity.js';

await launchService(batchSubmitterIdentity, async () => (await import('./batch-submitter.definition.js')).batchSubmitterService);
