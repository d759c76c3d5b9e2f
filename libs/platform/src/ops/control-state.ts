import type { EntityManager } from 'typeorm';
import { returnedRows } from '../database/transaction.js';

/** Set by an operator: nothing new is paid for while paused (no batch formed, none created; a batch the provider already made is still adopted). */
export interface SubmissionPause {
  paused: boolean;
  reason: string | null;
  changedAt: string;
}

/** Set by the assembler when a quota or budget holds batches back; cleared when a batch forms again. */
export interface SubmissionHold {
  kind: 'spend_budget' | 'token_budget' | 'request_quota' | 'token_quota';
  model: string;
  reason: string;
  since: string;
}

export interface CacheControl {
  clearedAt: string | null;
}

interface ControlValues {
  'submission.pause': SubmissionPause;
  /** Holds by model: a budget on one model does not stop the others. */
  'submission.holds': Record<string, SubmissionHold>;
  cache: CacheControl;
}
export type ControlKey = keyof ControlValues;

const DEFAULTS: ControlValues = {
  'submission.pause': { paused: false, reason: null, changedAt: new Date(0).toISOString() },
  'submission.holds': {},
  cache: { clearedAt: null },
};

/** Reads one control (shared by every replica through the `control_state` table). */
export async function readControl<K extends ControlKey>(manager: EntityManager, key: K): Promise<ControlValues[K]> {
  const rows: Array<{ value: ControlValues[K] }> = await manager.query(`SELECT value FROM control_state WHERE key = $1`, [key]);
  return rows[0]?.value ?? DEFAULTS[key];
}

export async function writeControl<K extends ControlKey>(manager: EntityManager, key: K, value: ControlValues[K]): Promise<void> {
  await manager.query(
    `INSERT INTO control_state (key, value, updated_at) VALUES ($1, $2::jsonb, now())
     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
    [key, JSON.stringify(value)],
  );
}

/** Sets the hold of one model (atomic: replicas may hold and release other models at the same time). */
export async function setHold(manager: EntityManager, hold: SubmissionHold): Promise<void> {
  await manager.query(
    `INSERT INTO control_state (key, value, updated_at) VALUES ('submission.holds', jsonb_build_object($1::text, $2::jsonb), now())
     ON CONFLICT (key) DO UPDATE SET value = control_state.value || EXCLUDED.value, updated_at = now()`,
    [hold.model, JSON.stringify(hold)],
  );
}

/** Releases a model's hold; true when there was one. */
export async function clearHold(manager: EntityManager, model: string): Promise<boolean> {
  const rows = await manager.query(
    `UPDATE control_state SET value = value - $1::text, updated_at = now() WHERE key = 'submission.holds' AND value ? $1::text RETURNING key`,
    [model],
  );
  return returnedRows(rows).length > 0;
}

/** What `cascade status` and the ops API say about submission: running, paused by an operator, or held by a budget. */
export interface SubmissionStatus {
  state: 'running' | 'paused' | 'held';
  pause: SubmissionPause;
  holds: SubmissionHold[];
  message: string;
}

export async function submissionStatus(manager: EntityManager): Promise<SubmissionStatus> {
  const pause = await readControl(manager, 'submission.pause');
  const holds = Object.values(await readControl(manager, 'submission.holds')).sort((a, b) => a.model.localeCompare(b.model));
  if (pause.paused) return { state: 'paused', pause, holds, message: `paused by an operator${pause.reason ? `: ${pause.reason}` : ''} since ${pause.changedAt}` };
  if (holds.length > 0) return { state: 'held', pause, holds, message: holds.map((h) => `${h.model} held since ${h.since}: ${h.reason}`).join('; ') };
  return { state: 'running', pause, holds, message: 'running' };
}
