import assert from 'node:assert/strict';
import { test } from 'node:test';
import { repoPath } from '@recipe-mesh/measure/repo';
import { defaultInterpolation, interpolate, panelTargets, variableDefaults } from './targets.js';

const dashboardsDir = repoPath('grafana', 'dashboards');

test('interpolate replaces Grafana macros and variables in every syntax', () => {
  const values = { ...defaultInterpolation, variables: { service: '.*', namespace: 'recipe-mesh' } };
  assert.equal(
    interpolate(
      'rate(x{service=~"$service", namespace=~"${namespace}", a=~"[[service]]", b=~"${service:regex}"}[$__rate_interval])',
      values,
    ),
    'rate(x{service=~".*", namespace=~"recipe-mesh", a=~".*", b=~".*"}[1m])',
  );
  assert.equal(interpolate('x[$__interval] offset $__range', values), 'x[15s] offset 30m');
  // Unknown names stay, as in Grafana, so the query fails loudly; label_replace's $1 is untouched.
  assert.equal(
    interpolate('label_replace(up{a="$servce"}, "b", "$1", "c", "(.*)")', values),
    'label_replace(up{a="$servce"}, "b", "$1", "c", "(.*)")',
  );
});

test('variables default to their "All" value', () => {
  assert.deepEqual(variableDefaults(dashboardsDir, 'recipe-mesh-services'), { namespace: '.*', service: '.*' });
  assert.deepEqual(variableDefaults(dashboardsDir, 'no-such-dashboard'), {});
});

test('panel targets carry their dashboard, panel and Kubernetes-only marker', () => {
  const targets = panelTargets(dashboardsDir);
  assert.ok(targets.length > 80);
  const istio = targets.filter((t) => t.rawExpr.includes('istio_'));
  assert.ok(istio.length > 0 && istio.every((t) => t.kubernetesOnly));
  assert.ok(targets.filter((t) => !t.rawExpr.includes('istio_')).every((t) => !t.kubernetesOnly));
});
