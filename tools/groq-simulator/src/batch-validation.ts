import { readJsonlLines } from './jsonl.js';

export interface BatchValidationError {
  code: string;
  message: string;
  param: string | null;
  line: number | null;
}

export interface ValidationSettings {
  endpoint: string;
  isKnownModel: (model: string) => boolean;
  maxLines: number;
  /** Errors kept; the count of the rest is reported in one closing entry. */
  maxErrors: number;
  chunkLines: number;
  /** Checked between chunks: validation of a big file stops early when the batch is cancelled. */
  shouldStop: () => boolean;
}

export interface ValidationResult {
  errors: BatchValidationError[];
  /** Non-blank lines: the batch's request_counts.total. */
  requests: number;
  stopped: boolean;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Checks an input file line by line before anything runs, as Groq does (OpenAI-reported codes where
 * Groq's are unknown): JSON, a unique non-empty custom_id, POST, the batch's url, a body with a known
 * model. Only the set of custom_ids is held, not the lines.
 */
export async function validateBatchInput(path: string, settings: ValidationSettings): Promise<ValidationResult> {
  const errors: BatchValidationError[] = [];
  let dropped = 0;
  const report = (error: BatchValidationError) => {
    if (errors.length < settings.maxErrors) errors.push(error);
    else dropped++;
  };
  const seen = new Set<string>();
  let requests = 0;
  for await (const { lineNumber, text } of readJsonlLines(path)) {
    if (lineNumber % settings.chunkLines === 0) {
      if (settings.shouldStop()) return { errors, requests, stopped: true };
      await yieldToEventLoop();
    }
    if (text.trim() === '') continue;
    requests++;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      report({ code: 'invalid_json_line', message: `Line ${lineNumber} is not valid JSON.`, param: null, line: lineNumber });
      continue;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      report({ code: 'invalid_json_line', message: `Line ${lineNumber} is not a JSON object.`, param: null, line: lineNumber });
      continue;
    }
    const line = parsed as { custom_id?: unknown; method?: unknown; url?: unknown; body?: unknown };
    if (typeof line.custom_id !== 'string' || line.custom_id === '') {
      report({ code: 'missing_required_parameter', message: `Line ${lineNumber} has no custom_id.`, param: 'custom_id', line: lineNumber });
    } else if (seen.has(line.custom_id)) {
      report({
        code: 'duplicate_custom_id',
        message: `The custom_id '${line.custom_id}' on line ${lineNumber} is already used by an earlier line; custom_ids must be unique within a batch.`,
        param: 'custom_id',
        line: lineNumber,
      });
    } else seen.add(line.custom_id);
    if (line.method !== 'POST') {
      report({ code: 'invalid_method', message: `Line ${lineNumber} uses method ${JSON.stringify(line.method ?? null)}; only POST is supported.`, param: 'method', line: lineNumber });
    }
    if (line.url !== settings.endpoint) {
      report({
        code: 'invalid_url',
        message: `Line ${lineNumber} has url ${JSON.stringify(line.url ?? null)}; this batch's endpoint is ${settings.endpoint}.`,
        param: 'url',
        line: lineNumber,
      });
    }
    const body = typeof line.body === 'object' && line.body !== null && !Array.isArray(line.body) ? (line.body as { model?: unknown }) : null;
    if (!body) {
      report({ code: 'missing_required_parameter', message: `Line ${lineNumber} has no request body.`, param: 'body', line: lineNumber });
    } else if (typeof body.model !== 'string' || body.model === '') {
      report({ code: 'missing_required_parameter', message: `Line ${lineNumber} has no body.model.`, param: 'body.model', line: lineNumber });
    } else if (!settings.isKnownModel(body.model)) {
      report({
        code: 'model_not_found',
        message: `The model \`${body.model}\` on line ${lineNumber} does not exist or you do not have access to it.`,
        param: 'body.model',
        line: lineNumber,
      });
    }
  }
  if (requests === 0) report({ code: 'empty_file', message: 'The input file has no request lines.', param: null, line: null });
  if (requests > settings.maxLines) {
    report({ code: 'too_many_tasks', message: `The input file has ${requests} requests; the limit is ${settings.maxLines} per batch.`, param: null, line: null });
  }
  if (dropped > 0) errors.push({ code: 'too_many_errors', message: `${dropped} further validation errors were not listed.`, param: null, line: null });
  return { errors, requests, stopped: false };
}
