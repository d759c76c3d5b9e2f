import { Foundation1763900000000 } from './1763900000000-foundation.js';
import { Pipeline1763900001000 } from './1763900001000-pipeline.js';
import { Operations1763900002000 } from './1763900002000-operations.js';
import { ClaimIndex1763900003000 } from './1763900003000-claim-index.js';
import { DeadLetters1763900004000 } from './1763900004000-dead-letters.js';
import { ResultFlags1763900005000 } from './1763900005000-result-flags.js';
import { BilledCost1763900006000 } from './1763900006000-billed-cost.js';
import { RequestStages1763900007000 } from './1763900007000-request-stages.js';
import { RequestSourceTime1763900008000 } from './1763900008000-request-source-time.js';
import { InputFileCleanup1763900009000 } from './1763900009000-input-file-cleanup.js';
import { SubmissionFencing1763900010000 } from './1763900010000-submission-fencing.js';
import { Retention1763900011000 } from './1763900011000-retention.js';
import { RequestInputs1763900012000 } from './1763900012000-request-inputs.js';
import { SpendSettlement1763900013000 } from './1763900013000-spend-settlement.js';
import { Routing1763900014000 } from './1763900014000-routing.js';
import { QuotaFallbacks1763900016000 } from './1763900016000-quota-fallbacks.js';
import { TraceContext1763900017000 } from './1763900017000-trace-context.js';
import { Deadlines1763900018000 } from './1763900018000-deadlines.js';

/** Listed explicitly (no glob): ESM builds and tests load exactly these, in this order. */
export const ALL_MIGRATIONS = [
  Foundation1763900000000,
  Pipeline1763900001000,
  Operations1763900002000,
  ClaimIndex1763900003000,
  DeadLetters1763900004000,
  ResultFlags1763900005000,
  BilledCost1763900006000,
  RequestStages1763900007000,
  RequestSourceTime1763900008000,
  InputFileCleanup1763900009000,
  SubmissionFencing1763900010000,
  Retention1763900011000,
  RequestInputs1763900012000,
  SpendSettlement1763900013000,
  Routing1763900014000,
  QuotaFallbacks1763900016000,
  TraceContext1763900017000,
  Deadlines1763900018000,
];
