import type { StoredSpan } from '@recipe-mesh/measure/stored-span';

export interface WaterfallOptions {
  /** Width of the timeline bar column in characters. */
  barWidth?: number;
}

interface Node {
  span: StoredSpan;
  children: Node[];
}

function tree(spans: StoredSpan[]): Node[] {
  const nodes = new Map(spans.map((s) => [s.spanId, { span: s, children: [] as Node[] }]));
  const roots: Node[] = [];
  for (const node of nodes.values()) {
    const parent = node.span.parentSpanId ? nodes.get(node.span.parentSpanId) : undefined;
    (parent ? parent.children : roots).push(node);
  }
  const byStart = (a: Node, b: Node) => a.span.startMs - b.span.startMs;
  const sortDeep = (list: Node[]) => {
    list.sort(byStart);
    list.forEach((n) => sortDeep(n.children));
  };
  sortDeep(roots);
  return roots;
}

const pad = (text: string, width: number) =>
  text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);

/**
 * A trace as a terminal waterfall: one line per span, indented under its parent, with a bar
 * placed on the trace's timeline, e.g.
 *   istio-ingressgateway  web-api...:3000/*   |██████████████████████|  12.3 ms
 *     web-api.recipe-mesh web-api...:3000/*   | █████████████████████|  11.9 ms
 */
export function renderWaterfall(spans: StoredSpan[], options: WaterfallOptions = {}): string {
  if (spans.length === 0) return '(no spans)';
  const barWidth = options.barWidth ?? 40;
  const start = Math.min(...spans.map((s) => s.startMs));
  const end = Math.max(...spans.map((s) => s.startMs + s.durationMs));
  const total = Math.max(end - start, 0.001);
  const lines: string[] = [];
  const serviceWidth = Math.min(24, Math.max(...spans.map((s) => s.service.length)) + 2);
  const header = `trace ${spans[0]!.traceId}  ${spans.length} spans  ${total.toFixed(1)} ms  ${new Date(start).toISOString()}`;
  lines.push(header);
  const walk = (node: Node, depth: number) => {
    const s = node.span;
    const from = Math.floor(((s.startMs - start) / total) * barWidth);
    const length = Math.max(1, Math.round((s.durationMs / total) * barWidth));
    const bar =
      ' '.repeat(Math.min(from, barWidth - 1)) + '█'.repeat(Math.min(length, barWidth - Math.min(from, barWidth - 1)));
    const label = pad('  '.repeat(depth) + s.service, serviceWidth + depth * 2);
    const status = s.statusCode === 'ERROR' ? ' ERROR' : '';
    // Envoy spans carry the access log's response flags (UC, UF, URX...): the incident's fingerprint.
    const flags = s.attributes.response_flags;
    const flagText = typeof flags === 'string' && flags !== '-' ? ` ${flags}` : '';
    const httpStatus = s.attributes['http.status_code'] ?? s.attributes['http.response.status_code'];
    const code = httpStatus !== undefined && httpStatus !== null ? ` ${String(httpStatus)}` : '';
    // Istio-style operation names repeat `.svc.cluster.local`; the namespace is enough here.
    const name = s.name.replace(/\.svc\.cluster\.local/g, '');
    lines.push(
      `${label} ${pad(`${s.kind.toLowerCase()} ${name}`, 44)} |${bar.padEnd(barWidth)}| ${s.durationMs.toFixed(1).padStart(8)} ms${code}${flagText}${status}`,
    );
    node.children.forEach((c) => walk(c, depth + 1));
  };
  tree(spans).forEach((root) => walk(root, 0));
  return lines.join('\n');
}
