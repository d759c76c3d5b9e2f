import { type LineLocation, type MalformedLine, type MalformedOutcome, OUR_CODES, RAW_TEXT_LIMIT } from './outcome.js';

/** The small, defensive readers every provider's result lines are parsed with. */
export type Json = Record<string, unknown>;

export const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
export const textOrNull = (value: unknown): string | null => (typeof value === 'string' ? value : null);
export const tokenCount = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0);

/**
 * A private copy of a string kept past its line: a substring would otherwise pin the whole
 * downloaded chunk it was cut from, and a file of bad lines would stay in memory whole.
 */
export const detach = (value: string, limit = RAW_TEXT_LIMIT): string => Buffer.from(value.slice(0, limit), 'utf8').toString('utf8');

/** The custom_id of a line that is not JSON, when it can still be read: its request is then failed, not lost. */
export function salvageCustomId(raw: string): string | null {
  const match = /"custom_id"\s*:\s*"((?:[^"\\]|\\.)*)"/.exec(raw);
  if (!match) return null;
  try {
    return detach(JSON.parse(`"${match[1]}"`) as string);
  } catch {
    return null;
  }
}

/** A line whose custom_id was read but whose structure was not; `where` names the file or stream. */
export function malformedOutcome(customId: string, at: LineLocation, raw: string, where: string, reason: string): MalformedOutcome {
  return { kind: 'malformed', customId, code: OUR_CODES.malformedLine, message: `${where} line ${at.lineNumber}: ${reason}`, raw: detach(raw), ...at };
}

/**
 * The first steps of reading any provider's result line: JSON, an object, a custom_id. What fails them is a
 * malformed outcome when its custom_id can still be read (its request is failed, not lost), else a line no
 * request can be attributed to.
 */
export function readResultLine(raw: string, at: LineLocation, where: string): { line: Json; customId: string } | MalformedOutcome | MalformedLine {
  let line: unknown;
  try {
    line = JSON.parse(raw);
  } catch (error) {
    const reason = `not JSON (${(error as Error).message})`;
    const salvaged = salvageCustomId(raw);
    return salvaged ? malformedOutcome(salvaged, at, raw, where, reason) : { ...at, raw: detach(raw), reason };
  }
  if (!isObject(line)) return { ...at, raw: detach(raw), reason: 'not a JSON object' };
  const customId = textOrNull(line.custom_id);
  if (!customId) return { ...at, raw: detach(raw), reason: 'no custom_id' };
  return { line, customId };
}
