import { PrIngestedPayload } from '#contracts';
import { DEMO_TEAMS, syntheticPrs } from './synthetic-prs.js';

describe('synthetic PR set', () => {
  const prs = syntheticPrs({ count: 6_000, seed: 7 });

  it('is valid against the pr.ingested contract, with unique ids', () => {
    for (const pr of prs.slice(0, 500)) expect(PrIngestedPayload.safeParse(pr).success).toBe(true);
    expect(new Set(prs.map((p) => p.requestId)).size).toBe(prs.length);
  });

  it('has about 11 % empty bodies and the six teams in equal shares', () => {
    const empty = prs.filter((p) => p.body === '').length / prs.length;
    expect(empty).toBeGreaterThan(0.09);
    expect(empty).toBeLessThan(0.13);
    for (const { team } of DEMO_TEAMS) expect(prs.filter((p) => p.team === team).length).toBe(1_000);
  });

  it('carries AI markers at roughly each team\'s rate', () => {
    const marked = (p: (typeof prs)[number]) =>
      /Claude Code|Cursor Agent|app\.devin\.ai/.test(p.body) ||
      p.author.startsWith('devin') ||
      p.reviews.some((r) => /coderabbitai|cubic-dev-ai|copilot-pull-request-reviewer/.test(r.author));
    const payments = prs.filter((p) => p.team === 'payments' && p.body !== '');
    const infra = prs.filter((p) => p.team === 'infra' && p.body !== '');
    expect(payments.filter(marked).length / payments.length).toBeGreaterThan(0.8);
    expect(infra.filter(marked).length / infra.length).toBeLessThan(0.06);
  });

  it('is deterministic for a seed', () => {
    expect(syntheticPrs({ count: 50, seed: 7 })).toEqual(prs.slice(0, 50));
  });
});
