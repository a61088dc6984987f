import { existsSync, readFileSync } from 'node:fs';
import {
  adminPaths,
  containerPortNames,
  envDefaults,
  envNames,
  servicePortNames,
  services,
} from '@recipe-mesh/contracts/contracts';
import { repoPath } from './repo.js';

/**
 * The names the manifests must agree with, from the contracts module (contracts/src/contracts.ts,
 * which reads the services' config schemas), the one place they are defined; docs/contracts.md is
 * generated from the same module.
 */
export interface ServiceContract {
  name: string;
  trafficPorts: number[];
  adminPort: number;
}

export interface Contracts {
  services: ServiceContract[];
  adminPaths: string[];
  envDefaults: Record<string, string>;
  /** Every variable a service container may be given: the schemas' keys, `OTEL_*`, `NODE_OPTIONS`. */
  envNames: Set<string>;
  imageNames: string[];
  containerPortNames: { traffic: string; grpc: string; admin: string };
  servicePortNames: string[];
}

export function readContracts(): Contracts {
  return {
    services: services.map((s) => ({
      name: s.name,
      trafficPorts: Object.values(s.trafficPorts),
      adminPort: s.adminPort,
    })),
    adminPaths: [...adminPaths],
    envDefaults: envDefaults(),
    envNames: envNames(),
    imageNames: services.map((s) => s.image),
    containerPortNames: { ...containerPortNames },
    servicePortNames: [...servicePortNames],
  };
}

/**
 * The admin paths the platform's admin server really routes (`case 'GET /livez'` in
 * services/platform/src/admin-server.ts), or null while that file does not exist yet.
 */
export function servedAdminPaths(file = repoPath('services/platform/src/admin-server.ts')): Set<string> | null {
  if (!existsSync(file)) return null;
  const source = readFileSync(file, 'utf8');
  return new Set([...source.matchAll(/'GET (\/[a-z]+)'/g)].map((m) => m[1]!));
}
