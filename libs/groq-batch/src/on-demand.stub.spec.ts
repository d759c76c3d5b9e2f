import { GroqBatchClient } from './client.js';
import { DEFAULT_GROQ_BATCH_CONFIG } from './config.js';
import { OpenAiBatchClient } from './openai-client.js';
import { DEFAULT_OPENAI_BATCH_CONFIG } from './openai-config.js';
import { parseBatchLine } from './parse.js';
import { sendJson, startStubServer, type StubServer } from './testing/stub-server.js';

const FAKE_KEY = 'test-credential-that-must-not-leak';
const BODY = { model: 'openai/gpt-oss-20b', messages: [{ role: 'user', content: 'x' }], max_tokens: 16 };
const VALIDATE_FAILED = { error: { message: 'Failed to validate JSON', type: 'invalid_request_error', code: 'json_validate_failed', failed_generation: '{"a":' } };

/**
 * An on-demand answer is presented as the batch's result line would hold it, so that the batch parser reads
 * it: an answer as a 200 line, the provider's error body (groq-sdk and openai keep it differently) as the line's.
 */
describe('answerOnDemand', () => {
  let stub: StubServer | null = null;
  afterEach(async () => {
    await stub?.stop();
    stub = null;
  });

  async function groqAnswering(status: number, body: unknown): Promise<GroqBatchClient> {
    stub = await startStubServer((request, response) => {
      expect(request.path).toBe('/openai/v1/chat/completions');
      expect(JSON.parse(request.body.toString())).toEqual(BODY);
      sendJson(response, status, body);
    });
    return new GroqBatchClient({ ...DEFAULT_GROQ_BATCH_CONFIG, apiKey: FAKE_KEY, baseURL: stub.url, timeoutMs: 5_000 });
  }

  it("sends the line's body and presents the completion as a 200 line", async () => {
    const completion = { id: 'c1', model: 'openai/gpt-oss-20b', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'not json' } }], usage: { prompt_tokens: 5, completion_tokens: 3 } };
    const line = await (await groqAnswering(200, completion)).answerOnDemand('acme/api#1', BODY);
    expect(JSON.parse(line)).toEqual({ custom_id: 'acme/api#1', response: { status_code: 200, body: completion }, error: null });
    // Read by the batch parser: checked against the schema, an answer off it is schema_invalid with its usage.
    expect(parseBatchLine(line, 'output', 1)).toMatchObject({ kind: 'invalid_output', customId: 'acme/api#1', code: 'schema_invalid', usage: { promptTokens: 5, completionTokens: 3 } });
  });

  it("presents Groq's error body as the line's, so the classifier sees the provider's code", async () => {
    const line = await (await groqAnswering(400, VALIDATE_FAILED)).answerOnDemand('acme/api#2', BODY);
    expect(parseBatchLine(line, 'output', 1)).toMatchObject({ kind: 'provider_error', httpStatus: 400, code: 'json_validate_failed', failedGeneration: '{"a":' });
    expect(line).not.toContain(FAKE_KEY);
  });

  it("presents OpenAI's error body the same way", async () => {
    stub = await startStubServer((request, response) => sendJson(response, 503, { error: { message: 'overloaded', type: 'server_error', code: null } }));
    const client = new OpenAiBatchClient({ ...DEFAULT_OPENAI_BATCH_CONFIG, apiKey: FAKE_KEY, baseURL: `${stub.url}/v1`, timeoutMs: 5_000 });
    const line = await client.answerOnDemand('acme/api#3', BODY);
    expect(parseBatchLine(line, 'output', 1)).toMatchObject({ kind: 'provider_error', httpStatus: 503, code: 'server_error', message: 'overloaded' });
  });

  it('presents a call that got no answer as a line that never ran (transient)', async () => {
    stub = await startStubServer(() => undefined);
    const client = new GroqBatchClient({ ...DEFAULT_GROQ_BATCH_CONFIG, apiKey: FAKE_KEY, baseURL: stub.url, timeoutMs: 200 });
    const line = await client.answerOnDemand('acme/api#4', BODY);
    expect(parseBatchLine(line, 'output', 1)).toMatchObject({ kind: 'provider_error', httpStatus: null, code: 'request_timeout' });
    expect(line).not.toContain(FAKE_KEY);
  });
});
