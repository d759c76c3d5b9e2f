import { launchService } from '#platform/launch';
import { resultWriterIdentity } from './result-writer.identity.js';

await launchService(resultWriterIdentity, async () => (await import('./result-writer.definition.js')).resultWriterService);
