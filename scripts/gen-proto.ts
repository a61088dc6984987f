// Generates protobuf-es code (messages, JSON types and embedded descriptors) for every file under
// proto/ with buf and @bufbuild/protoc-gen-es, both dev dependencies: the images run only the
// committed output and @bufbuild/protobuf, never a .proto file or protobufjs.
// `--check` regenerates into a temporary folder and fails when the committed code drifted.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoPath, repoRoot as root } from '@recipe-mesh/measure/repo';

const committed = repoPath('services/platform/src/proto/generated');
const check = process.argv.includes('--check');
const out = check ? mkdtempSync(path.join(tmpdir(), 'proto-gen-')) : committed;

// target=ts: sources the services compile; import_extension=js: what NodeNext resolution requires;
// json_types=true: the *Json types of the proto3 JSON form the gRPC handlers exchange
// (services/platform/src/grpc/service-definition.ts).
const template = {
  version: 'v2',
  plugins: [
    {
      local: repoPath('node_modules/.bin/protoc-gen-es'),
      out: '.',
      opt: ['target=ts', 'import_extension=js', 'json_types=true'],
    },
  ],
};

const files = (dir: string): string[] =>
  readdirSync(dir).flatMap((f) =>
    statSync(path.join(dir, f)).isDirectory() ? files(path.join(dir, f)).map((g) => path.join(f, g)) : [f],
  );

if (!check) rmSync(committed, { recursive: true, force: true });
execFileSync(
  repoPath('node_modules/.bin/buf'),
  ['generate', 'proto', '--template', JSON.stringify(template), '--output', out],
  { cwd: root, stdio: 'inherit' },
);
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
    console.error(`generated protobuf code is out of date (${drift.join(', ')}): run make proto`);
    process.exit(1);
  }
  console.log('generated protobuf code matches proto/');
}
