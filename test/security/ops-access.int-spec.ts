import { existsSync } from 'node:fs';
import { requestHistory } from '#ledger';
import { chromium } from 'playwright-core';
import { type GroqSimulator, startGroqSimulator } from '../../tools/groq-simulator/src/simulator.js';
import { createTestDatabase, type TestDatabase, uniqueSuffix } from '../support/infra.js';
import { getWithHost, type PollerProcess, runPollerToExit, startPoller } from './poller-process.js';

const WRITE = 'security-write-token-0123456789';
const READ = 'security-read-token-9876543210';
const WRONG = 'not-the-right-token-000000000';
const PR_BODY = 'CONFIDENTIAL-PR-BODY: rotate the prod signing key';

type Level = 'open' | 'read' | 'write';
/** Every route of the poller and who may call it; the OpenAPI check below keeps this list complete. */
const ROUTES: Array<[Level, 'GET' | 'POST', string, string]> = [
  ['open', 'GET', '/health/live', '/health/live'],
  ['open', 'GET', '/health/ready', '/health/ready'],
  ['open', 'GET', '/metrics', '/metrics'],
  ['open', 'GET', '/dashboard', '/dashboard'],
  ['open', 'GET', '/dashboard/app.js', '/dashboard/app.js'],
  ['read', 'GET', '/dashboard/data', '/dashboard/data'],
  ['read', 'GET', '/dashboard/insights', '/dashboard/insights'],
  ['read', 'GET', '/batches', '/batches'],
  ['read', 'GET', '/batches/{id}', '/batches/no-such-batch'],
  ['read', 'GET', '/requests/{id}', '/requests/no-such-request'],
  ['read', 'GET', '/quota', '/quota'],
  ['read', 'GET', '/cache', '/cache'],
  ['read', 'GET', '/submission', '/submission'],
  ['read', 'GET', '/reconcile', '/reconcile'],
  ['read', 'GET', '/deadlines', '/deadlines'],
  ['write', 'POST', '/batches/{id}/retry', '/batches/no-such-batch/retry'],
  ['write', 'POST', '/batches/{id}/cancel', '/batches/no-such-batch/cancel'],
  ['write', 'POST', '/cache/clear', '/cache/clear'],
  ['write', 'POST', '/submission/pause', '/submission/pause'],
  ['write', 'POST', '/submission/resume', '/submission/resume'],
];

type OpenApi = { paths: Record<string, Record<string, { security?: Array<Record<string, string[]>> }>> };
const openApi = async (base: string) => (await (await fetch(`${base}/docs/openapi.json`)).json()) as OpenApi;
/** The token variables an operation's OpenAPI security accepts (alternatives), sorted; none for an open route. */
const documentedTokens = (document: OpenApi, method: string, template: string) =>
  (document.paths[template]?.[method.toLowerCase()]?.security ?? []).flatMap((alternative) => Object.keys(alternative)).sort();
/** Past the guard: whatever the route answers (200, 202, 404), never an auth refusal nor a fault. */
const passed = (status: number) => (![401, 403].includes(status) && status < 500 ? 'passed' : status);

const call = (base: string, method: string, path: string, token?: string, init: RequestInit = {}) =>
  fetch(`${base}${path}`, { method, ...init, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers as Record<string, string>) } });

/**
 * The ops HTTP surface locked down: a poller bound off loopback needs tokens for its data (read scope)
 * and its changes (write scope); one bound to loopback answers only its own Host names; every response
 * carries the security headers; bad input is a 400 naming the field; PR text never leaves without consent.
 */
describe('ops HTTP access (poller)', () => {
  let db: TestDatabase;
  let sim: GroqSimulator;
  let exposed: PollerProcess;
  let local: PollerProcess;

  beforeAll(async () => {
    db = await createTestDatabase();
    sim = await startGroqSimulator({ seed: 7, perLineDelayMs: 50 });
    const common = { DATABASE_URL: db.url, GROQ_BASE_URL: sim.url };
    [exposed, local] = await Promise.all([
      // Bound to every interface (as in a container), with both scopes configured.
      startPoller({ ...common, KAFKA_TOPIC_PREFIX: `secx${uniqueSuffix()}.`, HTTP_HOST: '0.0.0.0', OPS_TOKEN: WRITE, OPS_READ_TOKEN: READ }),
      startPoller({ ...common, KAFKA_TOPIC_PREFIX: `secl${uniqueSuffix()}.`, OPS_TOKEN: WRITE, OPS_ALLOWED_HOSTS: 'ops.internal' }),
    ]);
    await db.dataSource.query(
      `INSERT INTO requests (request_id, prompt_version, correlation_id, team, repo, pr_number, content_hash, status, stage, attempt, pass, model, max_tokens, pr_bytes)
       VALUES ('acme/api#7', 'pr-analysis-v1', 'c', 'payments', 'acme/api', 7, $1, 'succeeded', 'merged', 1, 1, 'openai/gpt-oss-20b', 1024, 100)`,
      ['c'.repeat(64)],
    );
    await db.dataSource.query(`INSERT INTO request_inputs (request_id, prompt_version, pr) VALUES ('acme/api#7', 'pr-analysis-v1', $1)`, [
      JSON.stringify({ body: PR_BODY, createdAt: '2026-01-05T10:00:00Z', mergedAt: '2026-01-06T10:00:00Z' }),
    ]);
    await db.dataSource.query(
      `INSERT INTO results (request_id, prompt_version, team, repo, pr_number, content_hash, status, model, pass, attempt, analysis)
       VALUES ('acme/api#7', 'pr-analysis-v1', 'payments', 'acme/api', 7, $1, 'succeeded', 'openai/gpt-oss-20b', 1, 1, $2)`,
      [
        'c'.repeat(64),
        JSON.stringify({ summary: `Summary quoting "${PR_BODY}"`, change_type: 'bugfix', risk_level: 'high', ai_assisted: false, ai_tools: [], ai_evidence: `the body says ${PR_BODY}`, confidence: 0.8 }),
      ],
    );
  });

  afterAll(async () => {
    await Promise.all([exposed?.stop(), local?.stop()]);
    await sim?.stop();
    await db?.drop();
  });

  describe('binding', () => {
    it('refuses to start off loopback without OPS_TOKEN, naming the variable', async () => {
      const { code, output } = await runPollerToExit({ HTTP_HOST: '0.0.0.0', OPS_TOKEN: '', GROQ_API_KEY: 'fake-security-test-key', DATABASE_URL: db.url });
      expect(code).toBe(1);
      expect(output).toContain('Invalid configuration: OPS_TOKEN');
      expect(output).toContain('OPS_ALLOW_UNAUTHENTICATED');
    });

    it('refuses a malformed OPS_ALLOW_UNAUTHENTICATED (only true or false)', async () => {
      const { code, output } = await runPollerToExit({ HTTP_HOST: '0.0.0.0', OPS_TOKEN: '', OPS_ALLOW_UNAUTHENTICATED: 'yes', GROQ_API_KEY: 'fake-security-test-key', DATABASE_URL: db.url });
      expect(code).toBe(1);
      expect(output).toContain('Invalid configuration: OPS_ALLOW_UNAUTHENTICATED');
    });
  });

  describe('tokens, bound off loopback', () => {
    let document: OpenApi;
    beforeAll(async () => {
      document = await openApi(exposed.base);
    });

    it('classifies every route the poller documents', () => {
      const documented = Object.entries(document.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`));
      expect(documented.sort()).toEqual(ROUTES.map(([, method, path]) => `${method} ${path}`).sort());
    });

    it.each(ROUTES)('%s: %s %s, as its OpenAPI security says', async (level, method, template, path) => {
      const none = await call(exposed.base, method, path);
      const wrong = await call(exposed.base, method, path, WRONG);
      const read = await call(exposed.base, method, path, READ);
      const write = await call(exposed.base, method, path, WRITE);
      // The guard's decision in OpenAPI's terms: no security when it lets a call without a token through, else the tokens it took.
      const accepted = passed(none.status) === 'passed' ? [] : [...(passed(read.status) === 'passed' ? ['OPS_READ_TOKEN'] : []), ...(passed(write.status) === 'passed' ? ['OPS_TOKEN'] : [])];
      expect(documentedTokens(document, method, template)).toEqual(accepted.sort());
      const statuses = { none: none.status, wrong: wrong.status, read: read.status, write: write.status };
      if (level === 'open') expect({ none: passed(none.status), wrong: passed(wrong.status) }).toEqual({ none: 'passed', wrong: 'passed' });
      else expect({ ...statuses, write: passed(write.status), read: level === 'read' ? passed(read.status) : read.status }).toEqual({
        none: 401,
        wrong: 403,
        read: level === 'read' ? 'passed' : 403,
        write: 'passed',
      });
    });

    it('does not check Host off loopback (tokens protect it)', async () => {
      expect((await getWithHost(exposed.port, '/health/live', 'cascade.example.com')).status).toBe(200);
    });

    it('never logs a token', () => {
      expect(exposed.output()).not.toContain(WRITE);
      expect(exposed.output()).not.toContain(READ);
    });
  });

  describe('OpenAPI, bound to loopback', () => {
    // Reads need no token here, so only OPS_TOKEN is configured: the routes that refuse a call without one take it.
    it.each(ROUTES)('%s: %s %s, as its OpenAPI security says', async (_level, method, template, path) => {
      const document = await openApi(local.base);
      const open = passed((await call(local.base, method, path)).status) === 'passed';
      const accepted = open ? [] : passed((await call(local.base, method, path, WRITE)).status) === 'passed' ? ['OPS_TOKEN'] : [];
      expect(documentedTokens(document, method, template)).toEqual(accepted);
    });
  });

  describe('Host check, bound to loopback', () => {
    it('serves reads without a token to its own names, with any port', async () => {
      for (const host of ['127.0.0.1', `127.0.0.1:${local.port}`, 'localhost:80', `[::1]:${local.port}`, 'ops.internal', 'OPS.INTERNAL:8080']) {
        expect([host, (await getWithHost(local.port, '/submission', host)).status]).toEqual([host, 200]);
      }
    });

    it.each(['/submission', '/batches', '/health/live', '/dashboard', '/docs', '/docs/openapi.json'])('answers 421 on %s to a rebound name', async (path) => {
      for (const host of ['attacker.example', 'attacker.example:3102', '127.0.0.1.attacker.example', 'localhost.']) {
        const response = await getWithHost(local.port, path, host);
        expect([host, response.status]).toEqual([host, 421]);
        expect(response.body).not.toContain('acme');
      }
    });
  });

  describe('headers', () => {
    it('serves the dashboard under a CSP without inline script, its script from the same origin', async () => {
      const page = await fetch(`${local.base}/dashboard`);
      const csp = page.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
      expect(csp).toContain("frame-ancestors 'none'");
      const html = await page.text();
      expect(html).toContain('<script src="/dashboard/app.js"></script>');
      expect(html).not.toMatch(/<script>/);
      const script = await fetch(`${local.base}/dashboard/app.js`);
      expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
      expect(await script.text()).toContain("'/data'");
    });

    it.each(['/dashboard', '/dashboard/app.js', '/dashboard/insights', '/dashboard/data', '/docs', '/docs/openapi.json', '/batches', '/health/live', '/metrics', '/nope'])(
      '%s: nosniff, no X-Powered-By, a CSP that forbids framing',
      async (path) => {
        const response = await fetch(`${local.base}${path}`);
        expect(response.headers.get('x-content-type-options')).toBe('nosniff');
        expect(response.headers.get('x-powered-by')).toBeNull();
        expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      },
    );

    it('gives the insights fragment a policy that loads nothing', async () => {
      const response = await fetch(`${local.base}/dashboard/insights`);
      expect(response.headers.get('content-security-policy')).toMatch(/^default-src 'none'/);
    });

    const CHROMIUM = process.env.CASCADE_CHROMIUM ?? '/usr/bin/chromium';
    (existsSync(CHROMIUM) ? it : it.skip)('renders the Swagger UI at /docs under its CSP with no violation', async () => {
      const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
      try {
        const page = await browser.newPage();
        const violations: string[] = [];
        page.on('console', (message) => {
          if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
        });
        await page.goto(`${local.base}/docs`);
        await page.locator('.swagger-ui .info .title').waitFor({ timeout: 30_000 });
        expect(await page.locator('.swagger-ui .info .title').textContent()).toContain('Cascade poller');
        await page.locator('.opblock').first().waitFor();
        expect(violations).toEqual([]);
      } finally {
        await browser.close();
      }
    });
  });

  describe('bad input answers 400 naming the field, never 500', () => {
    it.each([
      ['/requests/a%00b', 'id'],
      ['/batches/%00', 'id'],
      ['/batches?pass=99999999999', 'pass'],
      ['/batches?limit=99999999999', 'limit'],
      ['/batches?pass=-1', 'pass'],
      ['/batches?state=%00', 'state'],
      ['/batches?model=a%00', 'model'],
      ['/batches?promptVersion=%00', 'promptVersion'],
      [`/requests/${'x'.repeat(400)}`, 'id'],
    ])('GET %s', async (path, field) => {
      const response = await fetch(`${local.base}${path}`);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { message: string }).message).toMatch(new RegExp(`^(query parameter )?${field} `));
    });

    it.each(['/batches/%00/retry', '/batches/%00/cancel'])('POST %s', async (path) => {
      const response = await call(local.base, 'POST', path, WRITE);
      expect(response.status).toBe(400);
    });

    it.each([['NUL', 'stop\u0000now'], ['a lone surrogate', 'stop \ud800 now']])('POST /submission/pause with %s in the reason', async (_what, reason) => {
      const response = await call(local.base, 'POST', '/submission/pause', WRITE, {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ reason }),
      });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { message: string }).message).toMatch(/^reason /);
      expect(((await (await fetch(`${local.base}/submission`)).json()) as { state: string }).state).toBe('running');
    });
  });

  describe('PR text', () => {
    it("leaves out the model's summary and evidence with the PR text, keeping the rest of the analysis", async () => {
      const response = await fetch(`${local.base}/requests/${encodeURIComponent('acme/api#7')}`);
      expect(response.status).toBe(200);
      const text = await response.text();
      expect(text).not.toContain('CONFIDENTIAL-PR-BODY');
      const history = JSON.parse(text) as { results: Array<{ analysis: Record<string, unknown> }> };
      expect(history.results[0]!.analysis).toEqual({ change_type: 'bugfix', risk_level: 'high', ai_assisted: false, ai_tools: [], confidence: 0.8 });
      // With consent (OPS_SHOW_PR_TEXT=true) all of it is there.
      const shown = JSON.stringify(await requestHistory(db.dataSource.manager, 'acme/api#7', { includePrText: true }));
      expect(shown).toContain(`Summary quoting`);
      expect(shown).toContain(`the body says ${PR_BODY}`);
    });
  });
});
