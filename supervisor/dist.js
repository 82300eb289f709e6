// The compiled build of the lab's processes: one esbuild run bundles the supervisor, the five services, the
// gateway and the five CLIs into dist/ (git-ignored), so `npm start` and the lab-* commands run plain
// JavaScript instead of transforming TypeScript through tsx at every start (~1 s and ~40 MiB per process).
//
// Plain JavaScript on purpose: the launchers check freshness and rebuild before anything TypeScript loads,
// with no loader in between. Types for TypeScript callers are in dist.d.ts.
//
// Freshness: the manifest records the size and mtime of every file the bundles were built from (and of
// node_modules/.package-lock.json, which npm rewrites on every install); any difference means a rebuild, so
// nobody ever runs a stale build. Output files are content-hashed and written atomically (temporary file,
// then rename), and the manifest last: processes that build at the same time (parallel tests) or that are
// running from an older build never read a half-written file.
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const distDir = join(repoRoot, 'dist');
const manifestPath = join(distDir, 'manifest.json');
const thisFile = fileURLToPath(import.meta.url);
const lockFile = join(repoRoot, 'node_modules/.package-lock.json');

/** Processes run by `npm start`: their entry modules export `start()`. */
const servers = {
  'svc-tokenize': 'svc-tokenize/src/server.ts',
  'svc-data': 'svc-data/src/server.ts',
  'svc-train': 'svc-train/src/server.ts',
  'svc-infer': 'svc-infer/src/server.ts',
  'svc-eval': 'svc-eval/src/server.ts',
  gateway: 'gateway/src/server.ts',
};
/** Modules that do their work at top level. */
const scripts = {
  supervisor: 'supervisor/src/main.ts',
  'lab-tokenize': 'svc-tokenize/src/cli.ts',
  'lab-data': 'svc-data/src/cli.ts',
  'lab-train': 'svc-train/src/cli.ts',
  'lab-infer': 'svc-infer/src/cli.ts',
  'lab-eval': 'svc-eval/src/cli.ts',
};

// Packages that stay in node_modules and are loaded by Node: native addons (lmdb, onnxruntime-node, koffi),
// packages that find their own files through __dirname (tiktoken's wasm, the .proto files of
// grpc-health-check and @grpc/reflection), the packages those share with our code (one copy of grpc-js, of
// protobufjs), and the tools. Everything else (zod, nats, OpenTelemetry, hono, …) is bundled: resolving and
// reading their hundreds of small files was most of a compiled service's remaining start-up.
const external = [
  'lmdb',
  'onnxruntime-node',
  'onnxruntime-common',
  'koffi',
  'tiktoken',
  '@grpc/grpc-js',
  '@grpc/proto-loader',
  '@grpc/reflection',
  'grpc-health-check',
  'protobufjs',
  'tsx',
  'esbuild',
  'vite',
];

/**
 * Bundled modules keep meaning their source location: `import.meta.url` (worker files beside a module, the
 * proto root, `createRequire` resolution) becomes the source file's URL, computed from the bundle's own URL
 * so a moved checkout still works. Every output file lies directly in dist/, so one relative path fits all.
 */
const sourceLocation = {
  name: 'source-location',
  setup(build) {
    build.onLoad({ filter: /\.[cm]?[jt]s$/ }, async (args) => {
      if (args.path.includes('/node_modules/')) return undefined;
      const loader = args.path.endsWith('ts') ? 'ts' : 'js';
      let contents = await readFile(args.path, 'utf8');
      if (contents.includes('import.meta')) {
        const url = `new URL(${JSON.stringify(relative(distDir, args.path))}, import.meta.url)`;
        contents = contents
          .replaceAll('import.meta.url', `${url}.href`)
          .replaceAll('import.meta.dirname', `__labDirname(${url})`)
          .replaceAll('import.meta.filename', `__labFilename(${url})`);
      }
      return { contents, loader };
    });
  },
};

/**
 * The lab's own modules do nothing at import but define things (no module is imported for its side effects),
 * so a module whose exports an entry does not use is left out, with the packages it imports: without this,
 * `export *` in @lab/common's index put grpc-js, lmdb and the rest into the supervisor and every CLI.
 */
const ownModulesArePure = {
  name: 'own-modules-are-pure',
  setup(build) {
    build.onResolve({ filter: /^[./@]/ }, async (args) => {
      if (args.pluginData === 'resolving' || args.importer.includes('/node_modules/')) return undefined;
      if (args.path.startsWith('@') && !args.path.startsWith('@lab/')) return undefined;
      const r = await build.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        pluginData: 'resolving',
      });
      if (r.errors.length || r.external || r.path.includes('/node_modules/')) return undefined;
      return { path: r.path, sideEffects: false };
    });
  },
};

/** `lab-entry:<name>` is a generated entry that starts a server module. */
const serverEntries = {
  name: 'server-entries',
  setup(build) {
    build.onResolve({ filter: /^lab-entry:/ }, (args) => ({
      path: args.path.slice(10),
      namespace: 'lab-entry',
    }));
    build.onLoad({ filter: /.*/, namespace: 'lab-entry' }, (args) => ({
      contents: `import { start } from ${JSON.stringify(`./${servers[args.path]}`)};\nawait start();\n`,
      resolveDir: repoRoot,
      loader: 'js',
    }));
  },
};

// CommonJS packages inside the bundle call require() for Node's built-ins; ESM has no require, so each output
// file makes one (and the helpers the source-location rewrite uses).
const banner = [
  "import { createRequire as __labCreateRequire } from 'node:module';",
  "import { fileURLToPath as __labFileURLToPath } from 'node:url';",
  "import { dirname as __labDirnameOf } from 'node:path';",
  'const require = __labCreateRequire(import.meta.url);',
  'const __labFilename = (u) => __labFileURLToPath(u);',
  'const __labDirname = (u) => __labDirnameOf(__labFileURLToPath(u));',
].join('\n');

function stamp(path) {
  try {
    const s = statSync(path);
    return `${s.size}:${s.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

function readManifest() {
  try {
    return JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Why the build in dist/ cannot be used (a sentence), or undefined when it is current. */
export function staleReason() {
  const m = readManifest();
  if (!m) return 'no build yet';
  for (const [file, was] of Object.entries(m.inputs)) {
    if (stamp(join(repoRoot, file)) !== was) return `${file} changed`;
  }
  for (const out of Object.values(m.entries)) if (!existsSync(join(distDir, out))) return `${out} is missing`;
  return undefined;
}

/** Bundles every entry into dist/ and writes the manifest. Returns the manifest. */
export async function build() {
  const esbuild = await import('esbuild');
  try {
    return await bundle(esbuild);
  } finally {
    // Ends esbuild's service process, which would otherwise live as long as the caller.
    await esbuild.stop();
  }
}

async function bundle(esbuild) {
  const before = {
    [relative(repoRoot, thisFile)]: stamp(thisFile),
    [relative(repoRoot, lockFile)]: stamp(lockFile),
  };
  const entryPoints = {
    ...Object.fromEntries(Object.keys(servers).map((n) => [n, `lab-entry:${n}`])),
    ...Object.fromEntries(Object.entries(scripts).map(([n, p]) => [n, join(repoRoot, p)])),
  };
  const result = await esbuild.build({
    absWorkingDir: repoRoot,
    entryPoints,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outdir: distDir,
    entryNames: '[name]-[hash]',
    chunkNames: 'chunk-[hash]',
    outExtension: { '.js': '.mjs' },
    external,
    banner: { js: banner },
    plugins: [serverEntries, ownModulesArePure, sourceLocation],
    sourcemap: 'linked',
    metafile: true,
    write: false,
    logLevel: 'warning',
  });
  mkdirSync(distDir, { recursive: true });
  // For looking into what a bundle holds (esbuild's analyzer reads this file).
  if (process.env.LAB_DIST_METAFILE)
    writeFileSync(process.env.LAB_DIST_METAFILE, JSON.stringify(result.metafile));
  for (const f of result.outputFiles) {
    // Same name, same content: a file already there is left alone (another process may be loading it).
    if (existsSync(f.path)) continue;
    const tmp = `${f.path}.${process.pid}.tmp`;
    writeFileSync(tmp, f.contents);
    renameSync(tmp, f.path);
  }
  const inputs = { ...before };
  for (const file of Object.keys(result.metafile.inputs)) {
    if (file.startsWith('lab-entry:') || file.includes('node_modules/')) continue;
    inputs[file] = stamp(join(repoRoot, file));
  }
  const entries = {};
  for (const [out, meta] of Object.entries(result.metafile.outputs)) {
    if (meta.entryPoint === undefined) continue;
    const name = Object.entries(entryPoints).find(
      ([, p]) => p === meta.entryPoint || join(repoRoot, meta.entryPoint) === p,
    )?.[0];
    if (name) entries[name] = relative(distDir, join(repoRoot, out));
  }
  const manifest = { builtAt: new Date().toISOString(), entries, inputs };
  const tmp = `${manifestPath}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(manifest, null, 1)}\n`);
  renameSync(tmp, manifestPath);
  prune(result.outputFiles.map((f) => f.path));
  return manifest;
}

/** Removes files of earlier builds a day after they were replaced (a process still running one may need its lazy chunks). */
function prune(current) {
  const keep = new Set(current.flatMap((p) => [p, `${p}.map`]));
  keep.add(manifestPath);
  const dayAgo = Date.now() - 24 * 3600 * 1000;
  for (const name of readdirSync(distDir)) {
    const path = join(distDir, name);
    if (keep.has(path)) continue;
    try {
      if (statSync(path).mtimeMs < dayAgo) unlinkSync(path);
    } catch {
      // Gone already (another build pruned it).
    }
  }
}

/**
 * The manifest of a current build, building first when there is none or it is stale. `say` hears one line
 * when a build happens. The build runs in a child process: esbuild's JavaScript API keeps its service and
 * the build's output in memory (~100 MiB in the caller, ~300 MiB in esbuild), which the supervisor and the
 * CLIs should not carry for the rest of their lives.
 */
export async function ensureBuilt(say = () => {}) {
  const reason = staleReason();
  if (!reason) return readManifest();
  const t0 = performance.now();
  const { spawn } = await import('node:child_process');
  const code = await new Promise((res, rej) => {
    const child = spawn(process.execPath, [thisFile, '--quiet'], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', rej);
    child.on('exit', (c, signal) => res(c ?? signal));
  });
  if (code !== 0) throw new Error(`the build failed (${code}); esbuild's messages are above`);
  say(`compiled the lab into dist/ in ${((performance.now() - t0) / 1000).toFixed(1)} s (${reason})`);
  return readManifest();
}

/** Absolute path of an entry's bundle in a manifest. */
export function entryFile(manifest, name) {
  const file = manifest.entries[name];
  if (!file) throw new Error(`dist/manifest.json has no entry "${name}"`);
  return join(distDir, file);
}

/**
 * What a launcher (npm start, the lab-* commands) does: make sure the build is current, then run the entry's
 * bundle. A failed build exits with esbuild's messages, which name the file and line.
 */
export async function runCompiled(name, say) {
  let manifest;
  try {
    manifest = await ensureBuilt(say);
  } catch (err) {
    process.stderr.write(`error: the lab failed to compile (${err.message.split('\n')[0]})\n`);
    process.exit(1);
  }
  await import(pathToFileURL(entryFile(manifest, name)).href);
}

// `node supervisor/dist.js` (npm run build, npm install's prepare): build now, whatever the manifest says.
if (process.argv[1] && resolve(process.argv[1]) === thisFile) {
  const t0 = performance.now();
  const m = await build();
  if (!process.argv.includes('--quiet'))
    process.stdout.write(
      `dist/: ${Object.keys(m.entries).length} entries from ${Object.keys(m.inputs).length} source files in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
    );
}
