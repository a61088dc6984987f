import { existsSync, readFileSync } from 'node:fs';
import { repoPath } from './repo.js';

/**
 * The names the manifests must agree with, read from docs/contracts.md (the single place they
 * are defined) rather than copied into the checks.
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
  /** Every upper-case `NAME` the document mentions: the variables a service reads. */
  envNames: Set<string>;
  imageNames: string[];
  containerPortNames: { traffic: string; grpc: string; admin: string };
  servicePortNames: string[];
}

export function readContracts(text = readFileSync(repoPath('docs/contracts.md'), 'utf8')): Contracts {
  const services: ServiceContract[] = [];
  for (const m of text.matchAll(/^\| (web-api|recipe-api) \|([^|]*)\|([^|]*)\|/gm)) {
    const traffic = [...m[2]!.matchAll(/`[A-Z_]+` (\d+)/g)].map((p) => Number(p[1]));
    const admin = /`ADMIN_PORT` (\d+)/.exec(m[3]!);
    if (admin && traffic.length) services.push({ name: m[1]!, trafficPorts: traffic, adminPort: Number(admin[1]) });
  }
  const adminHeader = /admin \(`([^`]+)`\)/.exec(text);
  const adminPaths = adminHeader ? adminHeader[1]!.split(/\s+/) : [];
  const envDefaults: Record<string, string> = {};
  for (const m of text.matchAll(/`([A-Z][A-Z0-9_]+)` \(([^)`]+)\)/g)) envDefaults[m[1]!] = m[2]!.trim();
  const envNames = new Set([...text.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!));
  const imageNames = [...text.matchAll(/`(recipe-mesh\/[a-z-]+):<version>`/g)].map((m) => m[1]!);
  const portNames =
    /Container ports are named `([^`]+)` \(traffic\), `([^`]+)` \(recipe-api\),\s+`([^`]+)` \(admin\)/.exec(text);
  const servicePortSentence = /Service port names follow[^:]*:([^.]+)\./.exec(text);
  return {
    services,
    adminPaths,
    envDefaults,
    envNames,
    imageNames,
    containerPortNames: {
      traffic: portNames?.[1] ?? '',
      grpc: portNames?.[2] ?? '',
      admin: portNames?.[3] ?? '',
    },
    servicePortNames: servicePortSentence ? [...servicePortSentence[1]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!) : [],
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
