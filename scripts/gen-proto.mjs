#!/usr/bin/env node
// Generates TypeScript types for proto/recipes/v1/recipes.proto with @grpc/proto-loader's
// generator, then adds `.js` to relative imports, which NodeNext resolution requires.
// `--check` regenerates into a temporary folder and fails when the committed types drifted.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const committed = path.join(root, 'services/platform/src/proto/generated');
const check = process.argv.includes('--check');
const out = check ? mkdtempSync(path.join(tmpdir(), 'proto-gen-')) : committed;

const files = (dir) =>
  readdirSync(dir).flatMap((f) =>
    statSync(path.join(dir, f)).isDirectory() ? files(path.join(dir, f)).map((g) => path.join(f, g)) : [f],
  );

if (!check) rmSync(committed, { recursive: true, force: true });
execFileSync(
  path.join(root, 'node_modules/.bin/proto-loader-gen-types'),
  [
    '--longs=String',
    '--enums=String',
    '--defaults',
    '--oneofs',
    '--grpcLib=@grpc/grpc-js',
    `--outDir=${out}`,
    'proto/recipes/v1/recipes.proto',
  ],
  { cwd: root, stdio: 'inherit' },
);
for (const f of files(out)) {
  const p = path.join(out, f);
  writeFileSync(p, readFileSync(p, 'utf8').replace(/from '(\.{1,2}\/[^']+?)'/g, "from '$1.js'"));
}
if (check) {
  const drift = [...new Set([...files(out), ...files(committed)])].filter((f) => {
    try {
      return readFileSync(path.join(out, f), 'utf8') !== readFileSync(path.join(committed, f), 'utf8');
    } catch {
      return true;
    }
  });
  rmSync(out, { recursive: true, force: true });
  if (drift.length) {
    console.error(`generated proto types are out of date (${drift.join(', ')}): run npm run gen:proto`);
    process.exit(1);
  }
  console.log('generated proto types match proto/');
}
