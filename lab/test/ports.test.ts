import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { freePort } from '@recipe-mesh/measure/net';
import { assertPortsFree, portEnvName, portsFromEnv, PortsTakenError } from '../src/ports.js';

test('port overrides come from LAB_PORT_* variables and bad values are refused', () => {
  assert.equal(portEnvName('webApiSidecarOutboundGrpc'), 'LAB_PORT_WEB_API_SIDECAR_OUTBOUND_GRPC');
  assert.deepEqual(portsFromEnv({ LAB_PORT_INGRESS: '18080', LAB_PORT_REDIS: '' }), { ingress: 18080 });
  assert.throws(() => portsFromEnv({ LAB_PORT_INGRESS: '80a' }), /LAB_PORT_INGRESS=80a is not a port number/);
});

test('taken ports are reported by name, all at once', async (t) => {
  const a = net.createServer().listen(0, '127.0.0.1');
  const b = net.createServer().listen(0, '0.0.0.0');
  await Promise.all([new Promise((r) => a.once('listening', r)), new Promise((r) => b.once('listening', r))]);
  t.after(() => {
    a.close();
    b.close();
  });
  const pa = (a.address() as net.AddressInfo).port;
  const pb = (b.address() as net.AddressInfo).port;
  const free = await freePort();
  const error = await assertPortsFree([
    { name: 'ingress', port: pa },
    { name: 'prometheus', port: pb },
    { name: 'redis', port: free },
  ]).catch((e: unknown) => e);
  assert.ok(error instanceof PortsTakenError);
  assert.deepEqual(error.taken, [
    { name: 'ingress', port: pa },
    { name: 'prometheus', port: pb },
  ]);
  assert.match(
    error.message,
    new RegExp(`port ${pa} \\(ingress\\) is already in use; stop what holds it or set LAB_PORT_INGRESS`),
  );
  await assertPortsFree([{ name: 'redis', port: free }]);
});
