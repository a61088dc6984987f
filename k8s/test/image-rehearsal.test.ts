import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { findBinary, requireBinary } from '@recipe-mesh/measure/binaries';
import { freePort } from '@recipe-mesh/measure/net';
import { type StartedProcess, startProcess } from '@recipe-mesh/measure/process';
import { type RedisProcess, startRedis } from '@recipe-mesh/measure/redis-server';
import {
  buildContext,
  isIgnored,
  parseDockerfile,
  parseDockerignore,
  type RehearsedImage,
  rehearseTarget,
} from './lib/image-rehearsal.js';
import { installedPackages, reachedOnlyThrough } from './lib/installed-packages.js';
import { find } from './lib/objects.js';
import { buildDefault } from './lib/kustomize.js';
import { repoPath, repoRoot } from './lib/repo.js';

/**
 * The images, rehearsed without a container engine (docs/kubernetes.md): the .dockerignore
 * context, each Dockerfile target's stages replayed into a temp directory, then the service
 * started from the runtime stage exactly as its ENTRYPOINT does, as the image's USER on a
 * read-only root whose only writable paths are the Deployment's emptyDir mounts (bubblewrap).
 */

const bwrap = (() => {
  const found = findBinary('bwrap');
  if (found) return { path: found };
  const reason = 'bwrap not found (apt-get install bubblewrap)';
  if (process.env.CI === 'true') throw new Error(`CI=true but ${reason}`);
  return { skip: reason };
})();
const redisBinary = requireBinary('redis-server');
const skip = 'skip' in bwrap ? bwrap.skip : 'skip' in redisBinary ? redisBinary.skip : false;

const dockerignore = readFileSync(repoPath('.dockerignore'), 'utf8');
const stages = parseDockerfile(readFileSync(repoPath('Dockerfile'), 'utf8'));
const lockfile = readFileSync(repoPath('package-lock.json'), 'utf8');
const objects = buildDefault();

/** The emptyDir mount paths of a Deployment's container: the only writable places in the pod. */
function emptyDirMounts(name: string): string[] {
  const pod = find(objects, 'Deployment', name)!.spec.template.spec;
  const emptyDirs = new Set(
    (pod.volumes ?? []).filter((v: { emptyDir?: unknown }) => v.emptyDir).map((v: { name: string }) => v.name),
  );
  const container = pod.containers.find((c: { name: string }) => c.name === name);
  return (container.volumeMounts ?? [])
    .filter((m: { name: string }) => emptyDirs.has(m.name))
    .map((m: { mountPath: string }) => m.mountPath);
}

/** bwrap argv for `image`'s entrypoint: system paths and /app read-only, tmpfs only at the emptyDirs. */
function sandboxArgs(image: RehearsedImage, tmpfs: string[], env: Record<string, string>, command: string[]) {
  const [uid, gid = uid] = image.user.split(':');
  const nodeDir = path.dirname(process.execPath);
  const args = ['--unshare-user', '--uid', uid!, '--gid', gid!, '--unshare-pid', '--unshare-ipc', '--die-with-parent'];
  for (const dir of ['/usr', '/etc']) args.push('--ro-bind', dir, dir);
  for (const dir of ['/bin', '/lib', '/lib64', '/sbin']) args.push('--ro-bind-try', dir, dir);
  if (!nodeDir.startsWith('/usr/')) args.push('--ro-bind', nodeDir, nodeDir);
  args.push('--ro-bind', image.appDir, image.workdir, '--proc', '/proc', '--dev', '/dev');
  for (const dir of tmpfs) args.push('--tmpfs', dir);
  args.push('--remount-ro', '/', '--chdir', image.workdir, '--clearenv');
  const fullEnv = { PATH: `${nodeDir}:/usr/local/bin:/usr/bin:/bin`, ...image.env, ...env };
  for (const [k, v] of Object.entries(fullEnv)) args.push('--setenv', k, v);
  return [...args, '--', ...command];
}

async function httpOk(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
}

describe('.dockerignore matcher', () => {
  const patterns = parseDockerignore(dockerignore);
  test('keeps sources and manifests, drops tests, installs and builds', () => {
    assert.equal(isIgnored(patterns, 'services/recipe-api/src/main.ts'), false);
    assert.equal(isIgnored(patterns, 'services/web-api/package.json'), false);
    // The services run generated protobuf code (scripts/gen-proto.ts), not the .proto files.
    assert.equal(isIgnored(patterns, 'proto/recipes/v1/recipes.proto'), true);
    assert.equal(isIgnored(patterns, 'services/recipe-api/src/app.test.ts'), true);
    assert.equal(isIgnored(patterns, 'services/recipe-api/src/test/helpers.ts'), true);
    assert.equal(isIgnored(patterns, 'services/recipe-api/dist/main.js'), true);
    assert.equal(isIgnored(patterns, 'services/recipe-api/src/node_modules/x.js'), true);
    assert.equal(isIgnored(patterns, 'k8s/base/namespace.yaml'), true);
    assert.equal(isIgnored(patterns, 'README.md'), true);
  });
});

describe('images rehearsed on a read-only root', { skip }, () => {
  const work = mkdtempSync(path.join(tmpdir(), 'recipe-mesh-image-'));
  const started: StartedProcess[] = [];
  const images = new Map<string, RehearsedImage>();
  let redis: RedisProcess | undefined;
  const ports = { recipe: 0, grpc: 0, recipeAdmin: 0, web: 0, webAdmin: 0 };

  const start = async (service: string, image: RehearsedImage, env: Record<string, string>, adminPort: number) => {
    const proc = await startProcess({
      name: `${service} (rehearsed image)`,
      command: (bwrap as { path: string }).path,
      args: sandboxArgs(image, emptyDirMounts(service), env, image.entrypoint),
      ready: () => httpOk(`http://127.0.0.1:${adminPort}/readyz`),
      readyTimeoutMs: 30_000,
    });
    started.push(proc);
    return proc;
  };

  before(async () => {
    const context = path.join(work, 'context');
    buildContext(repoRoot, dockerignore, context);
    // npm's cache makes the installs offline where it can; the commands are the Dockerfile's own.
    const runEnv = { ...process.env, npm_config_prefer_offline: 'true', CI: 'true' };
    for (const target of ['recipe-api', 'web-api'])
      images.set(target, await rehearseTarget(stages, target, context, path.join(work, 'stages'), runEnv));
    redis = await startRedis((redisBinary as { path: string }).path);
    for (const key of Object.keys(ports) as (keyof typeof ports)[]) ports[key] = await freePort();
  });

  after(async () => {
    for (const proc of started.reverse()) await proc.stop();
    await redis?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const recipeEnv = () => ({
    PORT: String(ports.recipe),
    GRPC_PORT: String(ports.grpc),
    ADMIN_PORT: String(ports.recipeAdmin),
    REDIS_URL: redis!.url,
    OTEL_SDK_DISABLED: 'true',
  });

  test('both services start from their images and answer REST, GraphQL and gRPC', async () => {
    const recipeApi = images.get('recipe-api')!;
    // --omit=dev held: a dev dependency the services needed at run time would fail their startup below.
    for (const image of images.values())
      for (const dev of ['typescript', 'tsx', '@biomejs/biome'])
        assert.equal(existsSync(path.join(image.appDir, 'node_modules', dev)), false, `${dev} in ${image.appDir}`);
    // The OTLP decoder is the tools' (measure/src/otlp-decode.ts) and gRPC runs on protobuf-es with
    // generated code (services/platform/src/grpc/): no image carries the decoder, protobufjs,
    // @grpc/proto-loader or a .proto file.
    for (const [service, image] of images) {
      assert.equal(existsSync(path.join(image.appDir, 'node_modules/@recipe-mesh/measure')), false, image.appDir);
      assert.equal(existsSync(path.join(image.appDir, 'services/platform/dist/otlp-decode.js')), false, image.appDir);
      assert.equal(existsSync(path.join(image.appDir, 'proto')), false, image.appDir);
      const packages = installedPackages(image.appDir);
      assert.ok(packages.includes('node_modules/@grpc/grpc-js'), service);
      assert.deepEqual(
        packages.filter((p) => /(^|\/)node_modules\/(protobufjs|@grpc\/proto-loader)$/.test(p)),
        [],
        service,
      );
      // What the lockfile installs for grpc-js' @grpc/proto-loader alone, derived here rather than read
      // from the Dockerfile's list, so a dependency it gains after an upgrade is caught.
      const loaderTree = reachedOnlyThrough(
        lockfile,
        ['services/platform', `services/${service}`],
        '@grpc/proto-loader',
      );
      assert.ok(loaderTree.includes('node_modules/protobufjs'), `${service}: ${loaderTree.join(' ')}`);
      assert.deepEqual(
        loaderTree.filter((p) => packages.includes(p)),
        [],
        `${service} holds what only @grpc/proto-loader needs`,
      );
    }
    assert.deepEqual(recipeApi.entrypoint.slice(0, 3), ['node', '--import', '@recipe-mesh/platform/telemetry']);
    await start('recipe-api', recipeApi, recipeEnv(), ports.recipeAdmin);
    await start(
      'web-api',
      images.get('web-api')!,
      {
        PORT: String(ports.web),
        ADMIN_PORT: String(ports.webAdmin),
        RECIPE_API_URL: `http://127.0.0.1:${ports.recipe}`,
        RECIPE_API_GRPC_TARGET: `127.0.0.1:${ports.grpc}`,
        OTEL_SDK_DISABLED: 'true',
      },
      ports.webAdmin,
    );
    for (const via of ['http', 'graphql', 'grpc']) {
      const response = await fetch(`http://127.0.0.1:${ports.web}/api/recipes/42?via=${via}`);
      const body = (await response.json()) as { via?: string; producer?: { name?: string; title?: string } };
      assert.equal(response.status, 200, `via=${via}: ${JSON.stringify(body)}`);
      assert.equal(body.via, via);
      assert.match(JSON.stringify(body.producer), /Chicken Tikka Masala/);
    }
  });

  test('a write outside the emptyDirs is refused, inside them allowed', async () => {
    const image = images.get('recipe-api')!;
    const script = (file: string) =>
      `try{require('fs').writeFileSync(${JSON.stringify(file)},'x');console.log('ok')}catch(e){console.log(e.code)}`;
    for (const [file, expected] of [
      ['/app/written.txt', 'EROFS'],
      ['/written.txt', 'EROFS'],
      ['/tmp/written.txt', 'ok'],
    ] as const) {
      const proc = await startProcess({
        name: `write ${file}`,
        command: (bwrap as { path: string }).path,
        args: sandboxArgs(image, emptyDirMounts('recipe-api'), {}, ['node', '-e', script(file)]),
      });
      started.push(proc);
      assert.equal(await proc.exited, 0);
      assert.equal(proc.output().trim(), expected, file);
    }
  });

  test('a runtime file the image lacks makes startup fail', async () => {
    const image = images.get('recipe-api')!;
    const broken = { ...image, appDir: path.join(work, 'broken-recipe-api') };
    cpSync(image.appDir, broken.appDir, { recursive: true, verbatimSymlinks: true });
    rmSync(path.join(broken.appDir, 'services/recipe-api/dist/config.js'));
    const adminPort = await freePort();
    await assert.rejects(
      start(
        'recipe-api',
        broken,
        {
          ...recipeEnv(),
          PORT: String(await freePort()),
          GRPC_PORT: String(await freePort()),
          ADMIN_PORT: String(adminPort),
        },
        adminPort,
      ),
      /exited .* during startup[\s\S]*config\.js/,
    );
  });
});
