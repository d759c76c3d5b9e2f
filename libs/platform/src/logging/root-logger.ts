import pino, { type Logger } from 'pino';

/** Keys whose values are secrets wherever they appear in a log object. */
export const REDACTED_PATHS = [
  'apiKey',
  '*.apiKey',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'GROQ_API_KEY',
  '*.GROQ_API_KEY',
  'OPENAI_API_KEY',
  '*.OPENAI_API_KEY',
  'ANTHROPIC_API_KEY',
  '*.ANTHROPIC_API_KEY',
  'req.headers["x-api-key"]',
  'headers["x-api-key"]',
  'OPS_TOKEN',
  '*.OPS_TOKEN',
  'OPS_READ_TOKEN',
  '*.OPS_READ_TOKEN',
];

/** Patterns of provider keys and bearer tokens, scrubbed from free text (error messages, stacks). */
const SECRET_PATTERNS = [/gsk_[A-Za-z0-9]{8,}/g, /sk-(?:ant-|proj-)?[A-Za-z0-9_-]{8,}/g, /Bearer\s+[A-Za-z0-9._~+/=-]{8,}/gi];

export function scrubSecrets(text: string, secrets: readonly string[] = []): string {
  let scrubbed = text;
  for (const secret of secrets) if (secret.length >= 8) scrubbed = scrubbed.split(secret).join('[REDACTED]');
  for (const pattern of SECRET_PATTERNS) scrubbed = scrubbed.replace(pattern, '[REDACTED]');
  return scrubbed;
}

/**
 * The fields of an error a log line may carry. A failed query's error also carries what was being
 * written — TypeORM's `parameters`, the driver's `detail` ("Failing row contains (…)"), `where` (the
 * JSON being parsed) and the whole `driverError` — and those hold PR text: they are never logged.
 */
const LOGGED_ERROR_FIELDS = ['type', 'message', 'stack', 'code', 'errno', 'constraint', 'table', 'column', 'schema', 'routine', 'query', 'status', 'name'];

export function serializeError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const serialized = pino.stdSerializers.err(error) as unknown as Record<string, unknown>;
  return Object.fromEntries(LOGGED_ERROR_FIELDS.filter((field) => serialized[field] !== undefined).map((field) => [field, serialized[field]]));
}

/**
 * JSON logs on stdout (or `destination`, for tests); secrets known to the process are scrubbed from every
 * line, not just known keys.
 */
export function createRootLogger(
  service: string,
  level: string,
  secrets: readonly string[] = [],
  destination: { write(line: string): unknown } = pino.destination({ dest: 1, sync: true }),
): Logger {
  const known = secrets.filter((secret) => secret.length >= 8);
  const scrubbingStream = {
    write(line: string) {
      destination.write(scrubSecrets(line, known));
    },
  };
  return pino(
    {
      level,
      base: { service },
      redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
      // `error` too: an Error under another key would otherwise be written with every enumerable field
      // (a QueryFailedError's `parameters` and `driverError` among them).
      serializers: { err: serializeError, error: serializeError },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    scrubbingStream,
  );
}
