// Measures what a user waits for and what the lab costs: `npm start` exactly as typed, seconds from the
// command to the printed URL (all services SERVING), and the resident memory and CPU time of every process
// it runs (npm, its shell, the supervisor, NATS, five services, gateway) once idle.
//
//   npx tsx supervisor/scripts/measure-start.ts [--runs N] [ROOT ...]
//
// Each ROOT is a checkout with node_modules (default: this one); with several, runs alternate between them,
// so a comparison shares the machine's load. CPU seconds to ready do not depend on that load the way wall
// seconds do; the load average is printed with every run.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../src/ports.ts';

const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const runs = runsAt >= 0 ? Number(args.splice(runsAt, 2)[1]) : 3;
const roots = (args.length ? args : [resolve(import.meta.dirname, '../..')]).map((r) => resolve(r));

interface Proc {
  pid: number;
  name: string;
  rssKiB: number;
  cpuSeconds: number;
}

const TICKS = 100; // USER_HZ on Linux

function proc(pid: number): Proc | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number(status.match(/^VmRSS:\s+(\d+) kB/m)?.[1] ?? 0);
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return {
      pid,
      name: label(argv),
      rssKiB: rss,
      cpuSeconds: (Number(fields[11]) + Number(fields[12])) / TICKS,
    };
  } catch {
    return undefined;
  }
}

/** A short name for a process of the stack from its command line. */
function label(argv: string[]): string {
  const line = argv.join(' ');
  if (/nats-server/.test(line)) return 'nats-server';
  if (/\bnpm\b|npm-cli/.test(line)) return 'npm';
  if (argv[0] === 'sh' || argv[0]?.endsWith('/sh')) return 'sh';
  const m = line.match(/(svc-\w+|gateway|supervisor)[-/]/);
  return m ? m[1] : line.slice(0, 40);
}

function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(d)]);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of parents.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

async function env(home: string): Promise<NodeJS.ProcessEnv> {
  const e: NodeJS.ProcessEnv = {};
  // The user's environment minus anything of the lab's, so every run is the README's `npm start`.
  for (const [k, v] of Object.entries(process.env))
    if (!/^(LAB_|NATS_URL|OTEL_|NODE_OPTIONS)/.test(k)) e[k] = v;
  e.LAB_HOME = home;
  for (const n of ['LAB_PORT', 'LAB_NATS_PORT', 'LAB_TOKENIZE_PORT', 'LAB_DATA_PORT'])
    e[n] = String(await freePort());
  for (const n of ['LAB_TRAIN_PORT', 'LAB_INFER_PORT', 'LAB_EVAL_PORT']) e[n] = String(await freePort());
  return e;
}

function waitFor(child: ChildProcess, re: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((res, rej) => {
    let out = '';
    const timer = setTimeout(() => rej(new Error(`no ${re} in ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const on = (d: Buffer) => {
      out += d.toString();
      if (re.test(out)) {
        clearTimeout(timer);
        res(out);
      }
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', (d: Buffer) => {
      out += d.toString();
    });
  });
}

interface Run {
  root: string;
  readySeconds: number;
  procs: Proc[];
  cpuAtReady: number;
  load: string;
}

async function measure(root: string): Promise<Run> {
  const home = mkdtempSync(join(tmpdir(), 'lab-measure-'));
  const load = loadavg()[0].toFixed(1);
  const t0 = performance.now();
  const npm = spawn('npm', ['start'], {
    cwd: root,
    env: await env(home),
    detached: true, // its own process group: SIGINT to the group is a Ctrl-C in a terminal
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    await waitFor(npm, /open http:\/\/\S+/, 120_000);
    const readySeconds = (performance.now() - t0) / 1000;
    const cpuAtReady = descendants(npm.pid!)
      .concat(npm.pid!)
      .map(proc)
      .reduce((s, p) => s + (p?.cpuSeconds ?? 0), 0);
    await new Promise((r) => setTimeout(r, 2000));
    const procs = [npm.pid!, ...descendants(npm.pid!)].map(proc).filter((p): p is Proc => !!p);
    return { root, readySeconds, procs, cpuAtReady, load: `${load}→${loadavg()[0].toFixed(1)}` };
  } finally {
    const exited = new Promise((r) => npm.once('exit', r));
    process.kill(-npm.pid!, 'SIGINT');
    await exited;
    rmSync(home, { recursive: true, force: true });
  }
}

const mib = (kib: number) => (kib / 1024).toFixed(1);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = new Map<string, Run[]>(roots.map((r) => [r, []]));
for (let i = 0; i < runs; i++) {
  for (const root of roots) {
    const r = await measure(root);
    results.get(root)!.push(r);
    const total = r.procs.reduce((s, p) => s + p.rssKiB, 0);
    console.log(
      `\n${root} run ${i + 1}: SERVING after ${r.readySeconds.toFixed(2)} s, ${r.cpuAtReady.toFixed(2)} CPU-s to ready, load ${r.load}`,
    );
    for (const p of r.procs)
      console.log(
        `  ${p.name.padEnd(13)} ${mib(p.rssKiB).padStart(7)} MiB  ${p.cpuSeconds.toFixed(2).padStart(6)} CPU-s`,
      );
    console.log(`  ${'total'.padEnd(13)} ${mib(total).padStart(7)} MiB in ${r.procs.length} processes`);
  }
}
console.log('\nmedians');
for (const [root, rs] of results) {
  const totals = rs.map((r) => r.procs.reduce((s, p) => s + p.rssKiB, 0));
  console.log(
    `  ${root}: ${median(rs.map((r) => r.readySeconds)).toFixed(2)} s to SERVING, ${median(rs.map((r) => r.cpuAtReady)).toFixed(2)} CPU-s, ${mib(median(totals))} MiB resident (${rs[0].procs.length} processes)`,
  );
}
