import { parser } from '@prometheus-io/lezer-promql';

type SyntaxNode = ReturnType<typeof parser.parse>['topNode'];

/** One metric selector of an expression, with what surrounds it. */
export interface MetricUse {
  name: string;
  /** The operator of the nearest aggregation around the selector (`sum`, `max`…), if any. */
  aggregation: string | null;
  /** The function the selector's range is given to (`rate`, `increase`…), if it has a range. */
  rangeFunction: string | null;
}

/**
 * Grafana's interval variables are not PromQL: each is replaced by a duration before parsing, as Grafana does
 * before sending the query.
 */
export function withGrafanaVariables(expr: string): string {
  return expr.replace(/\$__(rate_interval|interval|range)\b/g, '5m');
}

/** Parses one expression with Prometheus's own grammar: throws, naming the position, if any part does not parse. */
export function metricUses(expr: string): MetricUse[] {
  const tree = parser.parse(expr);
  const uses: MetricUse[] = [];
  const errors: number[] = [];
  tree.iterate({
    enter(ref) {
      if (ref.type.isError) errors.push(ref.from);
      if (ref.name !== 'VectorSelector') return;
      const node = ref.node;
      const identifier = node.getChild('Identifier');
      if (!identifier) throw new Error(`a selector without a metric name at ${ref.from} in: ${expr}`);
      uses.push({ name: expr.slice(identifier.from, identifier.to), aggregation: aggregationAround(node, expr), rangeFunction: rangeFunctionOf(node, expr) });
    },
  });
  if (errors.length > 0) throw new Error(`PromQL does not parse at offset ${errors[0]}: ${expr}`);
  return uses;
}

function aggregationAround(node: SyntaxNode, expr: string): string | null {
  for (let up = node.parent; up; up = up.parent) {
    if (up.name === 'AggregateExpr') {
      const op = up.getChild('AggregateOp')!;
      return expr.slice(op.from, op.to);
    }
  }
  return null;
}

function rangeFunctionOf(node: SyntaxNode, expr: string): string | null {
  if (node.parent?.name !== 'MatrixSelector') return null;
  const call = node.parent.parent?.parent;
  if (call?.name !== 'FunctionCall') return null;
  const identifier = call.getChild('FunctionIdentifier')!;
  return expr.slice(identifier.from, identifier.to);
}
