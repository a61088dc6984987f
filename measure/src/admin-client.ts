import type { FaultDocument } from '@recipe-mesh/platform/faults';

/**
 * The one client of a service's admin port for the tools (lab drills, both experiment targets,
 * soak): the `Authorization` header and `GET`/`PUT`/`DELETE /faults` (docs/contracts.md, "Admin
 * port"; the server is services/platform/src/admin-server.ts). `PUT` replaces the whole document
 * and `DELETE` clears it, so a partial change is a read, a merge and a write (patchFaults).
 */

export interface AdminOptions {
  /** The admin token (`ADMIN_TOKEN`); default: this process' `ADMIN_TOKEN`, as `lab up` passes it on. */
  token?: string | undefined;
  timeoutMs?: number;
}

/** `Authorization: Bearer <token>` when a token is set (the admin server then requires it). */
export function adminHeaders(token: string | undefined = process.env.ADMIN_TOKEN): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function faultsCall(
  adminUrl: string,
  method: 'GET' | 'PUT' | 'DELETE',
  body: FaultDocument | undefined,
  { token = process.env.ADMIN_TOKEN, timeoutMs = 5000 }: AdminOptions,
): Promise<FaultDocument> {
  const url = `${adminUrl}/faults`;
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...adminHeaders(token) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text.slice(0, 300)}`);
  return (text ? JSON.parse(text) : {}) as FaultDocument;
}

/** The fault document in force. */
export function getFaults(adminUrl: string, options: AdminOptions = {}): Promise<FaultDocument> {
  return faultsCall(adminUrl, 'GET', undefined, options);
}

/** Replaces the document (`DELETE` for an empty one); resolves with the document now in force. */
export function putFaults(adminUrl: string, doc: FaultDocument, options: AdminOptions = {}): Promise<FaultDocument> {
  return Object.keys(doc).length === 0
    ? faultsCall(adminUrl, 'DELETE', undefined, options)
    : faultsCall(adminUrl, 'PUT', doc, options);
}

/** Changes some keys: those set to `undefined` are cleared, the others kept. Returns the document now in force. */
export async function patchFaults(
  adminUrl: string,
  patch: Record<string, unknown>,
  options: AdminOptions = {},
): Promise<FaultDocument> {
  const next: Record<string, unknown> = { ...(await getFaults(adminUrl, options)), ...patch };
  for (const key of Object.keys(next)) if (next[key] === undefined) delete next[key];
  return putFaults(adminUrl, next as FaultDocument, options);
}
