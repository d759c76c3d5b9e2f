import type { BatchValidationError } from './batch-validation.js';

export type BatchStatus = 'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed' | 'expired' | 'cancelling' | 'cancelled';

/** The Batch object with every field Groq returns; unset timestamps and file ids are null. */
export interface BatchObject {
  id: string;
  object: 'batch';
  endpoint: string;
  errors: { object: 'list'; data: BatchValidationError[] } | null;
  input_file_id: string;
  completion_window: string;
  status: BatchStatus;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  in_progress_at: number | null;
  expires_at: number;
  finalizing_at: number | null;
  completed_at: number | null;
  failed_at: number | null;
  expired_at: number | null;
  cancelling_at: number | null;
  cancelled_at: number | null;
  request_counts: { total: number; completed: number; failed: number };
  metadata: Record<string, string> | null;
}

/** A batch and what the API asked of it while it runs. */
export interface BatchJob {
  batch: BatchObject;
  cancelRequested: boolean;
}

/** `24h` … `7d` in hours and days (Groq: "durations from 24h to 7d"); null when out of range or unreadable. */
export function completionWindowSeconds(window: string): number | null {
  const match = /^(\d+)(h|d)$/.exec(window);
  if (!match) return null;
  const hours = Number(match[1]) * (match[2] === 'd' ? 24 : 1);
  return hours >= 24 && hours <= 168 ? hours * 3_600 : null;
}
