import autocannon from 'autocannon';
import type { ServiceProcess } from './service-process.js';

export interface ShutdownUnderLoad {
  /** Ids answered with a 2xx, as the client saw them (when the responses carry `{ id }`). */
  answeredIds: Set<string>;
  statuses: Map<number, number>;
  /** Client-side request errors by code (ECONNREFUSED after the listener closed is expected). */
  errors: Map<string, number>;
  exitCode: number | NodeJS.Signals;
  /** Milliseconds from SIGTERM to the process exit. */
  exitAfterMs: number;
  /** Milliseconds from SIGTERM to the first `/readyz` 503 (undefined if never seen). */
  unreadyAfterMs?: number;
  /** 2xx answers on the traffic port after readiness had failed (the drain keeps serving). */
  answeredWhileUnready: number;
}

/**
 * Steady load from autocannon on `path` (with `{id}` replaced by a unique id per request), a
 * SIGTERM `signalAfterMs` into it, readiness polled meanwhile; resolves when both the load and
 * the process are done.
 */
export async function shutdownUnderLoad(
  service: ServiceProcess,
  options: { path: string; durationSec: number; connections: number; signalAfterMs: number },
): Promise<ShutdownUnderLoad> {
  let next = 0;
  const answeredIds = new Set<string>();
  const statuses = new Map<number, number>();
  const errors = new Map<string, number>();
  let unreadySince: number | undefined;
  let answeredWhileUnready = 0;

  const instance = autocannon(
    {
      url: service.httpUrl,
      connections: options.connections,
      duration: options.durationSec,
      requests: [
        {
          method: 'GET',
          setupRequest: (req) => ({ ...req, path: options.path.replace('{id}', String(next++)) }),
          onResponse: (status, body) => {
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
            if (status >= 200 && status < 300) {
              if (unreadySince !== undefined) answeredWhileUnready++;
              try {
                const id = (JSON.parse(body) as { id?: unknown }).id;
                if (id !== undefined) answeredIds.add(String(id));
              } catch {
                /* not every route answers an id */
              }
            }
          },
        },
      ],
    },
    () => undefined,
  );
  // The callback form returns the instance (an EventEmitter); `done` marks the end of the load.
  const loadDone = new Promise<void>((resolve) => instance.once('done', () => resolve()));
  instance.on('reqError', (error: NodeJS.ErrnoException) => {
    const code = error.code ?? error.message;
    errors.set(code, (errors.get(code) ?? 0) + 1);
  });

  await new Promise((r) => setTimeout(r, options.signalAfterMs));
  const signalledAt = Date.now();
  service.child.kill('SIGTERM');
  let exitedAt: number | undefined;
  const exitCode = await (async () => {
    const exited = service.exited.then((code) => {
      exitedAt = Date.now();
      return code;
    });
    while (exitedAt === undefined) {
      try {
        const res = await fetch(`${service.adminUrl}/readyz`);
        if (res.status === 503 && unreadySince === undefined) unreadySince = Date.now();
      } catch {
        /* admin port closed: the process is on its way out */
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 50))]);
    }
    return exited;
  })();
  await loadDone;
  return {
    answeredIds,
    statuses,
    errors,
    exitCode,
    exitAfterMs: exitedAt! - signalledAt,
    ...(unreadySince !== undefined ? { unreadyAfterMs: unreadySince - signalledAt } : {}),
    answeredWhileUnready,
  };
}
