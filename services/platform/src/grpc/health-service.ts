import * as grpc from '@grpc/grpc-js';
import { Health } from '../proto/generated/grpc/health/v1/health_pb.js';
import { type ServiceHandlers, serviceDefinition } from './service-definition.js';

/** What a service can be set to; SERVICE_UNKNOWN and UNKNOWN are the protocol's, never set. */
export type ServingStatus = 'SERVING' | 'NOT_SERVING';

export const healthServiceDescriptor = Health;

type WatchedStatus = ServingStatus | 'SERVICE_UNKNOWN';

/**
 * `grpc.health.v1.Health` (proto/grpc/health/v1/health.proto) as grpc/grpc doc/health-checking.md
 * specifies it: Check answers a known service's status and NOT_FOUND for any other; Watch sends the
 * current status (SERVICE_UNKNOWN for an unknown service) and then every change until the client
 * cancels; List answers every known service. "" is the server as a whole.
 */
export class HealthService {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Map<string, Set<(status: WatchedStatus) => void>>();

  constructor(initial: Record<string, ServingStatus>) {
    for (const [service, status] of Object.entries(initial)) this.statuses.set(service, status);
  }

  setStatus(service: string, status: ServingStatus): void {
    this.statuses.set(service, status);
    for (const watcher of this.watchers.get(service) ?? []) watcher(status);
  }

  addToServer(server: grpc.Server): void {
    server.addService(serviceDefinition(Health), this.handlers());
  }

  private handlers(): ServiceHandlers<typeof Health> {
    return {
      Check: (call, callback) => {
        const service = call.request.service ?? '';
        const status = this.statuses.get(service);
        if (status) callback(null, { status });
        else callback({ code: grpc.status.NOT_FOUND, details: `health status unknown for service ${service}` });
      },
      Watch: (call) => {
        const service = call.request.service ?? '';
        const send = (status: WatchedStatus) => call.write({ status });
        const watchers = this.watchers.get(service) ?? new Set();
        this.watchers.set(service, watchers.add(send));
        call.on('cancelled', () => watchers.delete(send));
        send(this.statuses.get(service) ?? 'SERVICE_UNKNOWN');
      },
      List: (_call, callback) => {
        callback(null, {
          statuses: Object.fromEntries([...this.statuses].map(([service, status]) => [service, { status }])),
        });
      },
    };
  }
}
