import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { imageNode, imageNodeVersion } from '../src/image-node.js';

test("the images' Node version is read from the Dockerfile's NODE_IMAGE", () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'image-node-'));
  try {
    const dockerfile = path.join(dir, 'Dockerfile');
    writeFileSync(
      dockerfile,
      '# syntax=docker/dockerfile:1\nARG NODE_IMAGE=node:24.21.0-bookworm-slim\nFROM ${NODE_IMAGE}\n',
    );
    assert.equal(imageNodeVersion(dockerfile), '24.21.0');
    writeFileSync(dockerfile, 'FROM node:lts\n');
    assert.throws(() => imageNodeVersion(dockerfile), /names no NODE_IMAGE/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // The repository's own Dockerfile pins an exact version, so the bench knows which binary to fetch.
  assert.match(imageNodeVersion(), /^\d+\.\d+\.\d+$/);
});

test('the binary lives in the cache under its version', () => {
  const node = imageNode({ XDG_CACHE_HOME: '/cache-root' });
  assert.equal(node.path, `/cache-root/recipe-mesh/node-${node.version}/bin/node`);
  assert.equal(node.installed, false);
});
