import { classifyFailure } from './classify.js';

describe('classifyFailure', () => {
  it.each([
    ['max_tokens_exceeded', 'The model reached max_tokens (1024) before it finished the JSON output.', 400, 'output_too_long'],
    ['invalid_max_tokens', '`max_tokens` must be less than or equal to `65536`, the maximum value for `max_tokens` is less than the `context_window` for this model', 400, 'permanent'],
    ['malformed_line', 'output file line 3: not JSON', null, 'invalid_output'],
    ['batch_failed', 'the batch failed validation', null, 'transient'],
    ['rate_limit_exceeded', 'slow down', 429, 'transient'],
    ['http_418', 'teapot', 418, 'permanent'],
    ['json_validate_failed', 'Failed to validate JSON. Please adjust your prompt.', 400, 'invalid_output'],
    ['schema_invalid', 'must have required property summary', null, 'invalid_output'],
    ['output_too_long', 'output reached max_tokens', 400, 'output_too_long'],
    ['invalid_request_error', 'Please increase max_tokens: maximum completion tokens reached', 400, 'output_too_long'],
    ['batch_expired', 'batch expired before this request ran', null, 'transient'],
    ['batch_cancelled', 'batch cancelled', null, 'transient'],
    ['missing', 'absent from output and error files', null, 'transient'],
    ['internal_server_error', 'upstream error', 500, 'transient'],
    ['whatever', 'bad gateway', 502, 'transient'],
    ['context_length_exceeded', 'Please reduce the length of the messages.', 400, 'permanent'],
    ['invalid_request_error', 'This model\'s maximum context length is 131072 tokens', 400, 'permanent'],
    ['content_policy_violation', 'refused', 400, 'permanent'],
    ['request_timeout', 'The request timed out.', null, 'transient'],
    ['refusal', "the model refused: I'm sorry, I can't help with that.", null, 'invalid_output'],
    // Anthropic's errored results carry an error type and no HTTP status.
    ['rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit', null, 'transient'],
    ['overloaded_error', 'Overloaded', null, 'transient'],
    ['api_error', 'Internal server error', null, 'transient'],
    ['timeout_error', 'Request timed out', null, 'transient'],
    ['invalid_request_error', 'max_tokens: Field required', null, 'permanent'],
    ['not_found_error', 'model: claude-x', null, 'permanent'],
    ['billing_error', 'Your credit balance is too low to access the Anthropic API.', null, 'transient'],
    ['invalid_request_error', 'Your credit balance is too low to access the Anthropic API.', null, 'transient'],
    ['authentication_error', 'invalid x-api-key', null, 'transient'],
  ])('%s (%s) is %s', (code, message, httpStatus, expected) => {
    expect(classifyFailure({ code, message, httpStatus })).toBe(expected);
  });
});

