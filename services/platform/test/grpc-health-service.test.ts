import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { HealthService, healthServiceDescriptor } from '../src/grpc/health-service.js';
import { serviceClient } from '../src/grpc/service-definition.js';
import { startGrpcServer } from './helpers/grpc-server.js';

const HealthClient = serviceClient(healthServiceDescriptor);

async function started(t: Parameters<typeof startGrpcServer>[0]) {
  const health = new HealthService({ '': 'NOT_SERVING', 'demo.v1.Demo': 'SERVING' });
  const address = await startGrpcServer(t, (server) => health.addToServer(server));
  const client = new HealthClient(address, grpc.credentials.createInsecure());
  t.after(() => client.close());
  return { health, client };
}

test('Check answers a known service and NOT_FOUND for any other', async (t) => {
  const { client } = await started(t);
  const check = (service: string) =>
    new Promise<{ status?: string }>((resolve, reject) =>
      client.check({ service }, (error, value) => (error || !value ? reject(error) : resolve(value))),
    );
  assert.equal((await check('')).status, 'NOT_SERVING');
  assert.equal((await check('demo.v1.Demo')).status, 'SERVING');
  await assert.rejects(check('other.v1.Other'), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
});

test('Watch sends the current status, then each change; SERVICE_UNKNOWN for an unknown service', async (t) => {
  const { client, health } = await started(t);
  const seen: string[] = [];
  const call = client.watch({ service: '' });
  call.on('data', (response: { status?: string }) => seen.push(response.status ?? ''));
  call.on('error', () => {});
  await once(call, 'data');
  health.setStatus('', 'SERVING');
  health.setStatus('', 'NOT_SERVING');
  while (seen.length < 3) await once(call, 'data');
  assert.deepEqual(seen, ['NOT_SERVING', 'SERVING', 'NOT_SERVING']);
  call.cancel();

  const unknown = client.watch({ service: 'other.v1.Other' });
  unknown.on('error', () => {});
  const [first] = (await once(unknown, 'data')) as [{ status?: string }];
  assert.equal(first.status, 'SERVICE_UNKNOWN');
  unknown.cancel();
});

test('List answers every known service', async (t) => {
  const { client } = await started(t);
  const listed = await new Promise<{ statuses?: Record<string, { status?: string }> }>((resolve, reject) =>
    client.list({}, (error, value) => (error || !value ? reject(error) : resolve(value))),
  );
  assert.deepEqual(listed.statuses, { '': { status: 'NOT_SERVING' }, 'demo.v1.Demo': { status: 'SERVING' } });
});
