// `make run`: both services in the foreground, plus a private Redis on a free port when
// redis-server is installed and REDIS_URL is not set. Ctrl-C stops everything.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { findBinary } from '@recipe-mesh/platform/testing/binaries';
import { startRedis, type RedisProcess } from '@recipe-mesh/platform/testing/redis-server';

const children: ChildProcess[] = [];
let redis: RedisProcess | undefined;

function start(name: string, entry: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', entry], {
    env: { ...process.env, OTEL_SDK_DISABLED: process.env.OTEL_SDK_DISABLED ?? 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream! }).on('line', (line) => console.log(`${name.padEnd(10)} | ${line}`));
  }
  child.on('exit', (code, signal) => {
    console.log(`${name.padEnd(10)} | exited (${signal ?? code})`);
    if (!stopping) void stop(1);
  });
  children.push(child);
  return child;
}

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.all(
    children.map((c) =>
      c.exitCode !== null || c.signalCode !== null
        ? undefined
        : new Promise((r) => {
            c.once('exit', r);
            c.kill('SIGTERM');
          }),
    ),
  );
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
start('recipe-api', 'services/recipe-api/src/main.ts', { REDIS_URL: redisUrl, SHUTDOWN_DRAIN_DELAY_MS: '0' });
start('web-api', 'services/web-api/src/main.ts', { SHUTDOWN_DRAIN_DELAY_MS: '0' });
console.log(
  'web-api on http://localhost:3000 (try /api/recipes/42?via=grpc), recipe-api on :4000 (gRPC :4001), admin :9464/:9465',
);
