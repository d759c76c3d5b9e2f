import { ConfigError } from '#platform';
import { deadlineDefaultsEnv, deadlineEnv, deadlineOf, deadlineSettingsFrom, onDemandRefusal } from './deadlines.js';

describe('deadlineOf', () => {
  const occurredAt = '2026-11-02T10:00:00.000Z';

  it("takes the event's own deadline first, normalised to UTC", () => {
    expect(deadlineOf({ team: 'payments', deadlineAt: '2026-11-02T12:30:00+02:00' }, occurredAt, { payments: 4 })).toBe('2026-11-02T10:30:00.000Z');
  });

  it("falls back to the team's default, counted from the event's occurredAt", () => {
    expect(deadlineOf({ team: 'payments' }, occurredAt, { payments: 4 })).toBe('2026-11-02T14:00:00.000Z');
    expect(deadlineOf({ team: 'payments' }, occurredAt, { payments: 0.5 })).toBe('2026-11-02T10:30:00.000Z');
  });

  it('is none for a team without a default', () => {
    expect(deadlineOf({ team: 'mobile' }, occurredAt, { payments: 4 })).toBeNull();
  });
});

describe('DEADLINE_DEFAULTS_JSON', () => {
  it('reads hours per team, and refuses what is not', () => {
    expect(deadlineDefaultsEnv.parse({ DEADLINE_DEFAULTS_JSON: '{"payments": 4}' }).DEADLINE_DEFAULTS_JSON).toEqual({ payments: 4 });
    expect(deadlineDefaultsEnv.parse({}).DEADLINE_DEFAULTS_JSON).toEqual({});
    expect(deadlineDefaultsEnv.safeParse({ DEADLINE_DEFAULTS_JSON: '{"payments": -1}' }).success).toBe(false);
    expect(deadlineDefaultsEnv.safeParse({ DEADLINE_DEFAULTS_JSON: '{"payments": "4h"}' }).success).toBe(false);
    expect(deadlineDefaultsEnv.safeParse({ DEADLINE_DEFAULTS_JSON: 'payments=4' }).success).toBe(false);
  });
});

describe('deadlineSettingsFrom', () => {
  it('is off by default', () => {
    expect(deadlineSettingsFrom(deadlineEnv.parse({}))).toBeNull();
  });

  it('needs the on-demand budget when on, naming the variable', () => {
    expect(() => deadlineSettingsFrom(deadlineEnv.parse({ DEADLINES: 'on' }))).toThrow(ConfigError);
    expect(() => deadlineSettingsFrom(deadlineEnv.parse({ DEADLINES: 'on' }))).toThrow(/ON_DEMAND_DAILY_BUDGET_USD is required when DEADLINES=on/);
    expect(deadlineSettingsFrom(deadlineEnv.parse({ DEADLINES: 'on', ON_DEMAND_DAILY_BUDGET_USD: '2.5', DEADLINE_MARGIN_MS: '60000' }))).toEqual({
      dailyBudgetUsd: 2.5,
      marginMs: 60_000,
      concurrency: 4,
    });
  });
});

describe('onDemandRefusal', () => {
  it('admits a call whose worst case fits in what is left of the budget', () => {
    expect(onDemandRefusal({ settledUsd: 0.5, reservedUsd: 0.25 }, 0.25, 1)).toBeNull();
  });

  it('refuses one that would cross it, saying what is committed and what the call may cost', () => {
    const reason = onDemandRefusal({ settledUsd: 0.5, reservedUsd: 0.25 }, 0.3, 1);
    expect(reason).toMatch(/on-demand budget \$1\.0000 reached: \$0\.7500 committed today \(UTC\) and the next call may cost \$0\.3000/);
  });
});
