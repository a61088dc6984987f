import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { parse } from 'yaml';

/**
 * A small JSON client for the local control plane's API server, with the client certificate of
 * the kubeconfig that `startControlPlane` wrote (control-plane.ts: file paths, one context). The
 * data plane (data-plane.ts) polls and patches through it many times a second; a kubectl process
 * per call would cost more CPU than the lab it drives on a 2-core machine.
 */
export interface KubeApi {
  server: string;
  get<T>(path: string): Promise<T>;
  /** JSON merge patch (RFC 7386): a list given replaces the list. */
  mergePatch<T>(path: string, body: unknown): Promise<T>;
  /** Server-side apply of one object, as `field manager` (idempotent create-or-update). */
  apply<T>(path: string, body: unknown, fieldManager: string): Promise<T>;
  delete(path: string, body?: unknown): Promise<void>;
}

interface Kubeconfig {
  clusters: { cluster: { server: string; 'certificate-authority': string } }[];
  users: { user: { 'client-certificate': string; 'client-key': string } }[];
}

export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function kubeApi(kubeconfigFile: string): KubeApi {
  const config = parse(readFileSync(kubeconfigFile, 'utf8')) as Kubeconfig;
  const cluster = config.clusters[0]!.cluster;
  const user = config.users[0]!.user;
  const tls = {
    ca: readFileSync(cluster['certificate-authority']),
    cert: readFileSync(user['client-certificate']),
    key: readFileSync(user['client-key']),
  };
  const call = <T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        `${cluster.server}${path}`,
        {
          method,
          ...tls,
          timeout: 10_000,
          headers: {
            accept: 'application/json',
            ...(payload ? { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) } : {}),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
          });
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status >= 400) reject(new KubeApiError(status, `${method} ${path}: ${status} ${text.slice(0, 500)}`));
            else resolve((text ? JSON.parse(text) : {}) as T);
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)));
      req.on('error', reject);
      req.end(payload);
    });
  return {
    server: cluster.server,
    get: (path) => call('GET', path),
    mergePatch: (path, body) => call('PATCH', path, body, 'application/merge-patch+json'),
    apply: (path, body, fieldManager) =>
      call('PATCH', `${path}?fieldManager=${fieldManager}&force=true`, body, 'application/apply-patch+yaml'),
    delete: async (path, body) => {
      await call('DELETE', path, body);
    },
  };
}
