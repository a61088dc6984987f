import { parser } from '@prometheus-io/lezer-promql';

/**
 * Metric names a PromQL expression selects, read from Prometheus's own grammar
 * (@prometheus-io/lezer-promql, the parser behind the Prometheus UI). Validity is promtool's job
 * (see promtool.ts): lezer recovers from errors, so this only reports that it had to.
 */
export interface SelectedMetrics {
  names: string[];
  /** True when the grammar hit a syntax error (a node lezer names "⚠"). */
  syntaxError: boolean;
}

export function selectedMetrics(expr: string): SelectedMetrics {
  const names = new Set<string>();
  let syntaxError = false;
  const tree = parser.parse(expr);
  tree.iterate({
    enter(node) {
      if (node.type.isError) syntaxError = true;
      if (node.name !== 'VectorSelector') return;
      const identifier = node.node.getChild('Identifier');
      if (identifier) {
        names.add(expr.slice(identifier.from, identifier.to));
        return;
      }
      // A selector without a leading name, e.g. {__name__="up"}: the name is a label matcher.
      const text = expr.slice(node.from, node.to);
      const byLabel = /__name__\s*=\s*"([^"]+)"/.exec(text);
      if (byLabel) names.add(byLabel[1]!);
      else names.add(text); // {__name__=~"..."} or no name at all: reported as unknown on purpose
    },
  });
  return { names: [...names].sort(), syntaxError };
}
