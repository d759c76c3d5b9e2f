import { Foundation1763900000000 } from './1763900000000-foundation.js';
import { Pipeline1763900001000 } from './1763900001000-pipeline.js';
import { Operations1763900002000 } from './1763900002000-operations.js';
import { ClaimIndex1763900003000 } from './1763900003000-claim-index.js';
import { BilledCost1763900006000 } from './1763900006000-billed-cost.js';

/** Listed explicitly (no glob): ESM builds and tests load exactly these, in this order. */
export const ALL_MIGRATIONS = [
  Foundation1763900000000,
  Pipeline1763900001000,
  Operations1763900002000,
  ClaimIndex1763900003000,
  BilledCost1763900006000,
];
