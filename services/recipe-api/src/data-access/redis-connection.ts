import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { startDurationTimer, type Metrics } from '@recipe-mesh/platform/metrics';
import { DependencyUnavailableError } from '../domain/ports.js';

export interface RedisConnectionOptions {
  url: string;
  commandTimeoutMs: number;
  connectTimeoutMs: number;
  reconnectMaxDelayMs: number;
}

/**
 * The only way to reach Redis: `run('get', (r) => r.get(key))` times the command into
 * redis_command_duration_seconds and turns connection failures into DependencyUnavailableError.
 * redis_connection_up follows ioredis' `ready` state.
 */
export class RedisConnection {
  private readonly client: Redis;
  private lastErrorLog = 0;
  private connected = false;

  constructor(
    options: RedisConnectionOptions,
    private readonly metrics: Pick<Metrics, 'redisCommandDuration' | 'redisConnectionUp'>,
    readonly logger: Logger,
  ) {
    this.client = new Redis(options.url, {
      // Fail fast instead of queueing while disconnected: a queued command would hold the request
      // until Redis returns; failing lets the catalogue answer from the store at once
      // (ioredis README, "Offline Queue").
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs,
      connectTimeout: options.connectTimeoutMs,
      // Reconnect forever with a bounded backoff: the service must heal by itself after Redis
      // restarts, and the delay must stay short enough that caching resumes within a second or so.
      retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 10), options.reconnectMaxDelayMs),
      lazyConnect: false,
      // Commands issued in the same event-loop turn (concurrent requests' cache reads) leave in one
      // write and one pipelined round trip instead of a syscall each (ioredis README,
      // "Autopipelining"); the order of one caller's commands is unchanged.
      enableAutoPipelining: true,
    });
    metrics.redisConnectionUp.set(0);
    this.client.on('ready', () => {
      metrics.redisConnectionUp.set(1);
      this.connected = true;
      logger.info('redis ready');
    });
    this.client.on('close', () => {
      if (this.connected) logger.warn('redis connection lost: serving from the store until it returns');
      this.connected = false;
      metrics.redisConnectionUp.set(0);
    });
    // Without a listener ioredis prints every failed reconnect; one line per 5 s is enough.
    this.client.on('error', (error: Error) => {
      const now = Date.now();
      if (now - this.lastErrorLog < 5000) return;
      this.lastErrorLog = now;
      logger.warn({ err: { message: error.message } }, 'redis error');
    });
  }

  isReady(): boolean {
    return this.client.status === 'ready';
  }

  /** Waits a little for the first connection so early requests can use the cache; never throws. */
  async waitUntilReady(timeoutMs: number): Promise<boolean> {
    if (this.isReady()) return true;
    return new Promise((resolve) => {
      const done = (ready: boolean) => {
        clearTimeout(timer);
        this.client.off('ready', onReady);
        resolve(ready);
      };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.client.once('ready', onReady);
    });
  }

  async run<T>(command: string, work: (client: Redis) => Promise<T>): Promise<T> {
    const stop = startDurationTimer(this.metrics.redisCommandDuration);
    try {
      const result = await work(this.client);
      stop({ command, outcome: 'success' });
      return result;
    } catch (error) {
      stop({ command, outcome: 'error' });
      // A ReplyError is Redis refusing a command we sent (a bug here), not Redis being away.
      if ((error as Error).name === 'ReplyError') throw error;
      throw new DependencyUnavailableError('redis', `redis ${command} failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /** QUIT lets Redis finish our pending replies; when it cannot answer, drop the socket. */
  async close(): Promise<void> {
    try {
      if (this.isReady()) await this.client.quit();
      else this.client.disconnect();
    } catch {
      this.client.disconnect();
    }
    this.metrics.redisConnectionUp.set(0);
  }
}

/** A MULTI/pipeline reply as ioredis returns it: [error, result] per command, or null when aborted. */
export function execResults(replies: [Error | null, unknown][] | null): unknown[] {
  if (!replies) throw new Error('transaction aborted');
  return replies.map(([error, result]) => {
    if (error) throw error;
    return result;
  });
}
