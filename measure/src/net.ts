import net from 'node:net';

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Resolves after `ms`: the one pause between polls (callers poll with a deadline, never sleep for a condition). */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface PollOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Polls `check` until it returns a truthy value (resolved with it) or the deadline passes
 * (resolved with null: for callers to whom "never happened" is an answer, e.g. a leak that does
 * not settle). A check that throws counts as not yet; the last error is returned with the null.
 */
export async function pollUntil<T>(
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  { timeoutMs = 10000, intervalMs = 50 }: PollOptions = {},
): Promise<{ value: T | null; lastError: unknown; elapsedMs: number }> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return { value, lastError: undefined, elapsedMs: Date.now() - started };
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) return { value: null, lastError, elapsedMs: Date.now() - started };
    await pause(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

/** Polls `check` until it returns a truthy value; throws one message naming `what` when the deadline passes. */
export async function waitFor<T>(
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  { timeoutMs = 10000, intervalMs = 50, what = 'condition' } = {},
): Promise<T> {
  const { value, lastError } = await pollUntil(check, { timeoutMs, intervalMs });
  if (value) return value;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

export function portIsOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
