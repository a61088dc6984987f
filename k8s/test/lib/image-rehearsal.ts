import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A rehearsal of `docker build` without a container engine (docs/kubernetes.md): the build context
 * the way .dockerignore filters it, and the Dockerfile's stages replayed into directories (one per
 * stage, standing for its /app), so that the runtime stage is exactly the files the image would hold.
 */

interface IgnorePattern {
  exclusion: boolean;
  regex: RegExp;
  segments: string[];
}

/** Go's filepath.Match plus `**` (any number of directories, zero included), as Docker documents. */
function globToRegex(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*' && glob[i + 1] === '*') {
      i++;
      if (glob[i + 1] === '/') {
        i++;
        out += '(?:.*/)?';
      } else out += '.*';
    } else if (ch === '*') out += '[^/]*';
    else if (ch === '?') out += '[^/]';
    else out += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

export function parseDockerignore(text: string): IgnorePattern[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((line) => {
      const exclusion = line.startsWith('!');
      const glob = path.posix.normalize((exclusion ? line.slice(1) : line).trim()).replace(/^\/+/, '');
      return { exclusion, regex: globToRegex(glob), segments: glob.split('/') };
    });
}

/**
 * Whether Docker leaves `file` (relative, `/`-separated) out of the context: the last pattern
 * that matches the path or one of its parent directories decides.
 */
export function isIgnored(patterns: IgnorePattern[], file: string): boolean {
  const parts = file.split('/');
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const p of patterns) if (candidates.some((c) => p.regex.test(c))) ignored = !p.exclusion;
  return ignored;
}

/** Whether a `!` pattern could re-include something below `dir`, so the walk must enter it. */
function mayReincludeBelow(patterns: IgnorePattern[], dir: string): boolean {
  const parts = dir.split('/');
  return patterns.some(
    (p) =>
      p.exclusion &&
      parts.every((part, i) => {
        const seg = p.segments[i];
        if (seg === undefined) return false;
        return seg.includes('**') || p.segments.slice(0, i).includes('**') || globToRegex(seg).test(part);
      }),
  );
}

/** Every file of the build context of `root`, relative and `/`-separated. */
export function contextFiles(root: string, dockerignore: string): string[] {
  const patterns = parseDockerignore(dockerignore);
  const files: string[] = [];
  const walk = (rel: string) => {
    for (const entry of readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (!isIgnored(patterns, child) || mayReincludeBelow(patterns, child)) walk(child);
      } else if (!isIgnored(patterns, child)) files.push(child);
    }
  };
  walk('');
  return files.sort();
}

/** Copies the context into `dest`: what `COPY` without `--from` can see. */
export function buildContext(root: string, dockerignore: string, dest: string): string[] {
  const files = contextFiles(root, dockerignore);
  for (const file of files) {
    mkdirSync(path.dirname(path.join(dest, file)), { recursive: true });
    cpSync(path.join(root, file), path.join(dest, file));
  }
  return files;
}

export interface Instruction {
  keyword: string;
  args: string;
}

export interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

/** The Dockerfile's stages, continuation lines joined, comments and parser directives dropped. */
export function parseDockerfile(text: string): Stage[] {
  const joined = text.replace(/\\\n\s*/g, ' ');
  const stages: Stage[] = [];
  for (const raw of joined.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line)!;
    const upper = keyword.toUpperCase();
    if (upper === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)!;
      stages.push({ name: m[2] ?? String(stages.length), from: m[1]!, instructions: [] });
    } else if (stages.length) stages.at(-1)!.instructions.push({ keyword: upper, args });
  }
  return stages;
}

/** What starting the image needs: the final stage's directory, environment, user and entrypoint. */
export interface RehearsedImage {
  appDir: string;
  workdir: string;
  env: Record<string, string>;
  user: string;
  entrypoint: string[];
}

/**
 * Replays `target` and the stages it depends on: COPY from the context or another stage, RUN in
 * the stage's directory (the commands are npm and npx, whose tools the host has, and rm -r), ENV, USER,
 * WORKDIR and ENTRYPOINT recorded. The base image's own files are the host's /usr (see the bwrap
 * root in the test). A missing COPY source fails as `docker build` fails.
 */
export async function rehearseTarget(
  stages: Stage[],
  target: string,
  contextDir: string,
  workDir: string,
  runEnv: NodeJS.ProcessEnv,
): Promise<RehearsedImage> {
  const done = new Map<string, RehearsedImage>();
  const build = async (name: string): Promise<RehearsedImage> => {
    const existing = done.get(name);
    if (existing) return existing;
    const stage = stages.find((s) => s.name === name);
    if (!stage) throw new Error(`Dockerfile: no stage ${name}`);
    const appDir = path.join(workDir, name);
    mkdirSync(appDir, { recursive: true });
    let image: RehearsedImage = { appDir, workdir: '/', env: {}, user: 'root', entrypoint: [] };
    if (stages.some((s) => s.name === stage.from)) {
      const parent = await build(stage.from);
      // Verbatim, as COPY keeps them: npm links workspaces with relative symlinks
      // (node_modules/@recipe-mesh/platform -> ../../services/platform), which must stay relative.
      cpSync(parent.appDir, appDir, { recursive: true, verbatimSymlinks: true });
      image = { ...parent, appDir, env: { ...parent.env } };
    }
    // The stage's filesystem is the directory of its WORKDIR (/app): nothing here writes elsewhere.
    const inStage = (p: string) => path.join(appDir, path.posix.resolve(image.workdir, p).replace(/^\/app\/?/, ''));
    for (const { keyword, args } of stage.instructions) {
      if (keyword === 'WORKDIR') {
        if (args !== '/app') throw new Error(`the rehearsal models WORKDIR /app only, not ${args}`);
        image.workdir = args;
      } else if (keyword === 'ENV') {
        const m = /^(\S+?)[= ](.*)$/.exec(args)!;
        image.env[m[1]!] = m[2]!;
      } else if (keyword === 'USER') image.user = args;
      else if (keyword === 'ENTRYPOINT') image.entrypoint = JSON.parse(args) as string[];
      else if (keyword === 'COPY') {
        const words = args.split(/\s+/);
        const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
        const paths = words.filter((w) => !w.startsWith('--'));
        const dest = paths.pop()!;
        const sourceRoot = from ? (await build(from)).appDir : contextDir;
        for (const source of paths) {
          const rel = from ? source.replace(/^\/app\/?/, '') : source;
          const src = path.join(sourceRoot, rel);
          if (!existsSync(src))
            throw new Error(`COPY ${source} (stage ${name}): not found in ${from ? `stage ${from}` : 'the context'}`);
          const isDir = statSync(src).isDirectory();
          const target = dest.endsWith('/') && !isDir ? path.join(inStage(dest), path.basename(rel)) : inStage(dest);
          mkdirSync(isDir ? target : path.dirname(target), { recursive: true });
          cpSync(src, target, { recursive: true, verbatimSymlinks: true });
        }
      } else if (keyword === 'RUN' && args.startsWith('rm -r ')) {
        // As rm -r does: a path that is not there fails the build.
        for (const target of args.slice('rm -r '.length).trim().split(/\s+/)) {
          if (!existsSync(inStage(target))) throw new Error(`RUN rm -r (stage ${name}): ${target} not found`);
          rmSync(inStage(target), { recursive: true });
        }
      } else if (keyword === 'RUN') {
        const [command, ...argv] = args.split(/\s+/);
        if (command !== 'npm' && command !== 'npx')
          throw new Error(`the rehearsal runs npm, npx and rm -r only, not RUN ${args}`);
        try {
          await run(command, argv, { cwd: appDir, env: { ...runEnv, ...image.env }, maxBuffer: 64 * 1024 * 1024 });
        } catch (error) {
          const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
          throw new Error(`RUN ${args} (stage ${name}) failed:\n${`${stdout}${stderr}`.slice(-4000)}`);
        }
      } else if (!['EXPOSE', 'ARG', 'LABEL'].includes(keyword))
        throw new Error(`the rehearsal does not model ${keyword} (stage ${name})`);
    }
    done.set(name, image);
    return image;
  };
  return build(target);
}
