import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { type MetricDefinition, metricDefinitions } from '#platform';
import { parse } from 'yaml';
import { type MetricUse, metricUses, withGrafanaVariables } from './promql.js';

const root = resolve(import.meta.dirname, '../..');
const DASHBOARD = 'deploy/grafana/cascade-dashboard.json';
const ALERTS = 'deploy/prometheus/cascade-alerts.yaml';
const ALERT_TESTS = 'deploy/prometheus/cascade-alerts.test.yaml';

interface GrafanaPanel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type: string; uid: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: Array<{ refId: string; expr: string; datasource?: { uid: string } }>;
}
interface GrafanaDashboard {
  title: string;
  uid: string;
  schemaVersion: number;
  templating: { list: Array<{ name: string; type: string; query: string }> };
  panels: GrafanaPanel[];
}
interface AlertRule {
  alert?: string;
  record?: string;
  expr: unknown;
  for?: unknown;
  labels?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}
interface RuleFile {
  groups: Array<{ name: string; rules: AlertRule[] }>;
}

const dashboard = JSON.parse(readFileSync(resolve(root, DASHBOARD), 'utf8')) as GrafanaDashboard;
const rules = parse(readFileSync(resolve(root, ALERTS), 'utf8')) as RuleFile;
const catalogue = new Map<string, MetricDefinition>(metricDefinitions().map((m) => [m.name, m]));

const queries = dashboard.panels.filter((p) => p.type !== 'row');
const dashboardExprs = queries.flatMap((panel) => (panel.targets ?? []).map((t) => ({ where: `${DASHBOARD}: panel "${panel.title}" ${t.refId}`, expr: withGrafanaVariables(t.expr) })));
const alertRules = rules.groups.flatMap((group) => group.rules);
const alertExprs = alertRules.map((rule) => ({ where: `${ALERTS}: ${rule.alert}`, expr: String(rule.expr) }));
const everyExpr = [...dashboardExprs, ...alertExprs];

/** Where a metric is used in a way that would miscount it with several replicas or across restarts, or null. */
function misuse(use: MetricUse, metric: MetricDefinition): string | null {
  if (metric.type === 'counter' && !['rate', 'irate', 'increase'].includes(use.rangeFunction ?? '')) {
    return `${use.name} is a counter (reset at every restart): read it through rate(), irate() or increase()`;
  }
  if (metric.acrossReplicas === 'max' && !['max', 'min'].includes(use.aggregation ?? '')) {
    return `${use.name} has the same value in every replica: aggregate it with max (found ${use.aggregation ?? 'no aggregation'})`;
  }
  return null;
}

describe('the metrics catalogue is the one list of exported metrics', () => {
  const sources = (dir: string): string[] =>
    readdirSync(dir).flatMap((entry) => {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) return sources(path);
      return path.endsWith('.ts') && !path.endsWith('.spec.ts') ? [path] : [];
    });
  const files = [...sources(resolve(root, 'libs')), ...sources(resolve(root, 'apps'))].map((path) => ({
    path: relative(root, path),
    text: readFileSync(path, 'utf8'),
  }));

  it('every metric the services register takes its definition from it', () => {
    const constructed = files.flatMap(({ path, text }) => [...text.matchAll(/new (Gauge|Counter|Histogram|Summary)\(([^)]*)/g)].map((m) => ({ path, call: m[0] })));
    expect(constructed.length).toBeGreaterThanOrEqual(catalogue.size);
    expect(constructed.filter(({ call }) => !/^new \w+\(\{\s*\.\.\.promConfig\(METRICS\.\w+/.test(call))).toEqual([]);
    const named = files.filter(({ path, text }) => !path.endsWith('metric-catalogue.ts') && /name:\s*['"`]cascade_/.test(text)).map((f) => f.path);
    expect(named).toEqual([]);
  });

  it('names follow the Prometheus conventions', () => {
    for (const metric of catalogue.values()) {
      expect(metric.name).toMatch(/^cascade_[a-z][a-z0-9_]*$/);
      if (metric.type === 'counter') expect(metric.name).toMatch(/_total$/);
      else expect(metric.name).not.toMatch(/_total$/);
      // A per-process counter is summed; a value every replica reads alike is not.
      expect(metric.acrossReplicas).toBe(metric.type === 'counter' ? 'sum' : 'max');
    }
  });
});

describe(`${DASHBOARD}`, () => {
  it('is a Grafana dashboard with a Prometheus datasource variable that every panel and query uses', () => {
    expect(dashboard).toMatchObject({ title: 'Cascade', uid: expect.stringMatching(/^[a-z0-9-]{1,40}$/) });
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }));
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    expect(queries.length).toBeGreaterThanOrEqual(10);
    for (const panel of queries) {
      expect({ panel: panel.title, datasource: panel.datasource }).toEqual({ panel: panel.title, datasource: { type: 'prometheus', uid: '${datasource}' } });
      expect(panel.description).toEqual(expect.any(String));
      expect(panel.targets?.length).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) expect(target.datasource?.uid).toBe('${datasource}');
      expect(panel.gridPos.x + panel.gridPos.w).toBeLessThanOrEqual(24);
    }
  });

  it('lays panels out without overlap', () => {
    const cells = new Set<string>();
    for (const { gridPos: g, title } of dashboard.panels) {
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          expect({ title, cell: cells.has(`${x},${y}`) ? `${x},${y}` : 'free' }).toEqual({ title, cell: 'free' });
          cells.add(`${x},${y}`);
        }
      }
    }
  });
});

describe(`${ALERTS}`, () => {
  it('is a Prometheus rule file: named groups of alerts with an expression, a duration, a severity and what to do', () => {
    expect(rules.groups.length).toBeGreaterThan(0);
    expect(new Set(rules.groups.map((g) => g.name)).size).toBe(rules.groups.length);
    const names = alertRules.map((r) => r.alert);
    expect(new Set(names).size).toBe(names.length);
    for (const group of rules.groups) {
      expect(group.name).toMatch(/^[a-z][a-z0-9-]*$/);
      expect(group.rules.length).toBeGreaterThan(0);
      for (const rule of group.rules) {
        expect(Object.keys(rule).filter((key) => !['alert', 'expr', 'for', 'labels', 'annotations'].includes(key))).toEqual([]);
        expect(rule.alert).toMatch(/^Cascade[A-Z][A-Za-z0-9]*$/);
        expect(typeof rule.expr).toBe('string');
        if (rule.for !== undefined) expect(rule.for).toMatch(/^\d+[smhd]$/);
        expect(rule.labels?.severity).toMatch(/^(critical|warning|info)$/);
        expect(rule.annotations?.summary).toEqual(expect.any(String));
        expect(rule.annotations?.description).toEqual(expect.any(String));
      }
    }
  });

  it('alerts on each thing operators watch', () => {
    const watched = new Set(alertExprs.flatMap(({ expr }) => metricUses(expr).map((use) => use.name)));
    for (const name of [
      'cascade_consumer_lag',
      'cascade_batch_oldest_age_seconds',
      'cascade_request_failures_total',
      'cascade_requests_stranded',
      'cascade_dead_letters_total',
      'cascade_spend_usd',
      'cascade_outbox_pending',
      'cascade_outbox_parked',
    ]) {
      expect({ name, alerted: watched.has(name) }).toEqual({ name, alerted: true });
    }
  });

  // promtool comes with Prometheus (Debian: the prometheus package); the checks above run without it.
  const promtool = spawnSync('promtool', ['--version']).status === 0;
  (promtool ? it : it.skip)('passes promtool check rules and its unit tests (promtool test rules)', () => {
    const check = spawnSync('promtool', ['check', 'rules', ALERTS], { cwd: root, encoding: 'utf8' });
    expect(check.stdout + check.stderr).toMatch(/SUCCESS/);
    const unit = spawnSync('promtool', ['test', 'rules', ALERT_TESTS], { cwd: root, encoding: 'utf8' });
    expect({ status: unit.status, output: unit.stdout + unit.stderr }).toEqual({ status: 0, output: expect.stringMatching(/SUCCESS/) });
  });
});

describe('every PromQL expression of the dashboard and the alerts', () => {
  it.each(everyExpr.map(({ where, expr }) => [where, expr]))('%s parses and reads only exported metrics, counted once', (_where, expr) => {
    const uses = metricUses(expr);
    expect(uses.length).toBeGreaterThan(0);
    for (const use of uses) {
      const metric = catalogue.get(use.name);
      expect({ metric: use.name, exported: metric !== undefined }).toEqual({ metric: use.name, exported: true });
      expect(misuse(use, metric!)).toBeNull();
    }
  });

  it('a name the services do not export, a summed gauge and a raw counter are all caught', () => {
    expect(() => metricUses('sum(rate(cascade_x[5m])')).toThrow(/does not parse/);
    expect(catalogue.has(metricUses('max(cascade_batches_inflight)')[0]!.name)).toBe(false);
    const [summed] = metricUses('sum(cascade_requests_stranded)');
    expect(misuse(summed!, catalogue.get('cascade_requests_stranded')!)).toMatch(/aggregate it with max/);
    const [raw] = metricUses('sum(cascade_dead_letters_total)');
    expect(misuse(raw!, catalogue.get('cascade_dead_letters_total')!)).toMatch(/through rate/);
  });
});
