// `make run`: both services in the foreground, plus a private Redis on a free port when
// redis-server is installed and REDIS_URL is not set. Ctrl-C stops everything.
import { findBinary } from '@recipe-mesh/measure/binaries';
import { nodeEntryArgs, type StartedProcess, startProcess } from '@recipe-mesh/measure/process';
import { startRedis, type RedisProcess } from '@recipe-mesh/measure/redis-server';

const children: StartedProcess[] = [];
let redis: RedisProcess | undefined;

async function start(name: string, entry: string, env: Record<string, string>): Promise<void> {
  const child = await startProcess({
    name,
    command: process.execPath,
    args: nodeEntryArgs(entry),
    env: { ...process.env, OTEL_SDK_DISABLED: process.env.OTEL_SDK_DISABLED ?? 'true', ...env },
    onLine: (line) => console.log(`${name.padEnd(10)} | ${line}`),
  });
  void child.exited.then((code) => {
    console.log(`${name.padEnd(10)} | exited (${code})`);
    if (!stopping) void stop(1);
  });
  children.push(child);
}

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.all(children.map((c) => c.stop()));
  await redis?.stop();
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

let redisUrl = process.env.REDIS_URL;
if (!redisUrl) {
  const binary = findBinary('redis-server');
  if (binary) {
    redis = await startRedis(binary);
    redisUrl = redis.url;
    console.log(`redis      | private redis-server on ${redis.url}`);
  } else {
    redisUrl = 'none';
    console.log('redis      | redis-server not found (apt-get install redis-server): running without the cache');
  }
}
await start('recipe-api', 'services/recipe-api/src/main.ts', { REDIS_URL: redisUrl, SHUTDOWN_DRAIN_DELAY_MS: '0' });
await start('web-api', 'services/web-api/src/main.ts', { SHUTDOWN_DRAIN_DELAY_MS: '0' });
console.log(
  'web-api on http://localhost:3000 (try /api/recipes/42?via=grpc), recipe-api on :4000 (gRPC :4001), admin :9464/:9465',
);
