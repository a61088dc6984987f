import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export class PortInUseError extends Error {
  constructor(
    readonly listener: string,
    readonly port: number,
  ) {
    super(`${listener} port ${port} is already in use`);
  }
}

/** `server.listen` as a promise; a taken port is reported by listener name, not as a stack trace. */
export function listen(server: Server, port: number, host: string, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(name, port) : error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export interface ManagedServer {
  server: Server;
  port: number;
  /**
   * Stop accepting, let in-flight requests finish within `timeoutMs`, then cut what is left.
   * Idle keep-alive sockets are closed right away and again as in-flight ones go idle, so a
   * client's pooled socket is not kept open to a server that is going away.
   */
  close(timeoutMs?: number): Promise<void>;
}

export function manageServer(server: Server): ManagedServer {
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close(timeoutMs = 10_000) {
      if (!server.listening) return Promise.resolve();
      return new Promise<void>((resolve) => {
        // A busy keep-alive socket is never idle when a sweep runs: its client sends the next
        // request as soon as an answer arrives, and Node keeps serving it after `server.close()`,
        // so shutdown would wait for the client to leave or cut requests at the timeout. Answer
        // every request that still arrives with `Connection: close` (Node then ends the socket after
        // the response; RFC 9112 §9.6), so each connection ends after at most one more answer.
        server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
          if (!res.headersSent) res.setHeader('connection', 'close');
        });
        const sweep = setInterval(() => server.closeIdleConnections(), 100);
        const force = setTimeout(() => server.closeAllConnections(), timeoutMs);
        server.close(() => {
          clearInterval(sweep);
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
    },
  };
}

/** Apply keep-alive/headers timeouts (config, then live from faults; see the 503 UC experiment). */
export function setServerTimeouts(server: Server, keepAliveTimeoutMs: number, headersTimeoutMs: number): void {
  server.keepAliveTimeout = keepAliveTimeoutMs;
  // Node requires headersTimeout > keepAliveTimeout to avoid a reset race on reused sockets
  // (nodejs/node#27363), so keep it above whatever keep-alive is set.
  server.headersTimeout = Math.max(headersTimeoutMs, keepAliveTimeoutMs + 1000);
}
