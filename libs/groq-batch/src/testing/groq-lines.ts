/** Output and error lines in Groq's exact JSONL formats, for specs and benchmarks. */

export const VALID_ANALYSIS = {
  summary: 'Retries webhook delivery with exponential backoff and records each attempt.',
  change_type: 'bugfix',
  risk_level: 'low',
  ai_assisted: true,
  ai_tools: ['Claude'],
  ai_evidence: 'Generated with Claude Code',
  confidence: 0.9,
} as const;

export interface SuccessLineOptions {
  content?: string;
  finishReason?: string;
  model?: string;
  usage?: { prompt_tokens: number; completion_tokens: number };
  /** gpt-oss models add their reasoning to the message. */
  reasoning?: string;
}

/** A success line as Groq writes it to the output file (with the fields real gpt-oss lines carry). */
export function successLine(customId: string, options: SuccessLineOptions = {}): string {
  const usage = options.usage ?? { prompt_tokens: 812, completion_tokens: 143 };
  return JSON.stringify({
    id: `batch_req_out_${customId.replace(/\W/g, '')}`,
    custom_id: customId,
    response: {
      status_code: 200,
      request_id: `req_${customId.replace(/\W/g, '')}`,
      body: {
        id: `chatcmpl-${customId.replace(/\W/g, '')}`,
        object: 'chat.completion',
        created: 1_766_000_000,
        model: options.model ?? 'openai/gpt-oss-20b',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: options.content ?? JSON.stringify(VALID_ANALYSIS), ...(options.reasoning ? { reasoning: options.reasoning } : {}) },
            logprobs: null,
            finish_reason: options.finishReason ?? 'stop',
          },
        ],
        usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens, queue_time: 0.05, prompt_time: 0.01, completion_time: 0.2, total_time: 0.21 },
        system_fingerprint: 'fp_1',
        x_groq: { id: `req_${customId.replace(/\W/g, '')}`, seed: 1 },
        service_tier: 'batch',
      },
    },
    error: null,
  });
}

/** The error line seen in a real Groq error file (Dec 2025), verbatim. */
export const REAL_ERROR_LINE =
  '{"id": "batch_req_out_01kd9xbwxjfsvrz95mc0dh0mph", "custom_id": "pr-9953", "response": {"status_code": 400, "body": {"error": {"message": "Failed to validate JSON. Please adjust your prompt.", "type": "invalid_request_error", "code": "json_validate_failed", "failed_generation": ""}}}}';

export function errorLine(customId: string, status: number, error: Record<string, unknown>): string {
  return JSON.stringify({ id: `batch_req_out_${customId.replace(/\W/g, '')}`, custom_id: customId, response: { status_code: status, request_id: 'req_x', body: { error } } });
}

/** json_validate_failed with the generation the provider refused (synchronous-API wording). */
export function jsonValidateFailedLine(customId: string, failedGeneration: string): string {
  return errorLine(customId, 400, {
    message: "Failed to generate JSON. Please adjust your prompt. See 'failed_generation' for more details.",
    type: 'invalid_request_error',
    code: 'json_validate_failed',
    failed_generation: failedGeneration,
  });
}

/** OpenAI-style line for a request an expired or cancelled batch never ran. */
export function unfinishedLine(customId: string, code: 'batch_expired' | 'batch_cancelled'): string {
  return JSON.stringify({
    id: `batch_req_out_${customId.replace(/\W/g, '')}`,
    custom_id: customId,
    response: null,
    error: { code, message: 'This request could not be executed before the completion window expired.' },
  });
}

export async function* asyncLines(...lines: string[]): AsyncGenerator<string> {
  for (const line of lines) yield line;
}
