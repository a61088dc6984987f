import { startLab, stopLab, applyMeshConfig, currentMesh } from '../src/lab.js';
import { patchListener } from '../src/mesh/description.js';
import { findTrace } from '../src/trace/store.js';
import { readAccessLog } from '../src/mesh/access-log.js';
import { freeLabPorts, standIn } from './helpers.js';
const stateDir = '/tmp/labv/dbg';
const ports = await freeLabPorts();
const T = Date.now(); const el = (m: string) => console.log(((Date.now() - T) / 1000).toFixed(2), m);
try {
  const state = await startLab({ stateDir, ports, apps: { webApi: standIn('web-api'), recipeApi: standIn('recipe-api') }, });
  el('up');
  const tid = 'ab'.repeat(16);
  for (const via of ['http','graphql','grpc']) { const r0 = await fetch(`${state.endpoints.publicUrl}/api/recipes/42?via=${via}`); el(via + ' ' + r0.status); }
  const r = await fetch(`${state.endpoints.publicUrl}/api/recipes/42?via=http`, { headers: { traceparent: `00-${tid}-${'cd'.repeat(8)}-01` } });
  el('fetched ' + r.status);
  for (let i = 0; i < 100; i++) { const s = await findTrace(state.endpoints.spansFile, tid); const a = (await readAccessLog(state.endpoints.accessLogs['recipe-api-sidecar']!)).length; if (i % 5 == 0) el(`spans ${s.length} access ${a}`); if (s.length >= 4 && a >= 1) break; await new Promise(r => setTimeout(r, 200)); }
  el('trace complete');
  const base = currentMesh({ stateDir });
  await applyMeshConfig(patchListener(base, 'web-api-sidecar', 'outbound-recipe-api-http', { route: { fault: { abort: { httpStatus: 503, percent: 100 } } } }), { stateDir });
  el('applied');
  await applyMeshConfig(base, { stateDir });
  el('applied back');
} finally { console.log(await stopLab({ stateDir })); el('down'); }
