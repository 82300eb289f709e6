// Runs an untrusted Python program (a model's HumanEval completion plus the benchmark's tests) so that nothing it
// does outlives it or reaches beyond it. Layers, outermost first:
//   - `detached` spawn: the sandbox is its own process group, killed as a whole on the wall-clock limit;
//   - `unshare --net`: a fresh network namespace holding only a downed loopback, so no connection leaves;
//   - `unshare --pid --fork --kill-child`: our Python "init" is pid 1 of a fresh pid namespace. When it exits or is
//     killed the kernel kills every process left in the namespace, even ones that setsid()'d out of the group;
//   - `setpriv`: a random unprivileged uid per run, no capabilities, no_new_privs. RLIMIT_NPROC is counted per uid
//     and not enforced for root, so as root it would not stop a fork bomb; under a uid of its own the limit
//     applies and covers this run only, so parallel runs cannot starve each other;
//   - rlimits set by init before it forks the program: CPU seconds, address space, processes, file size, no core.
// The tools come from util-linux, present wherever Debian is. When the probe finds a layer missing, runSandboxed
// refuses to run (FAILED_PRECONDITION): it never falls back to running code unsandboxed.
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { LabError } from '@lab/common';

export type SandboxStatus = 'passed' | 'failed' | 'timeout' | 'killed' | 'error';

export interface SandboxOptions {
  /** Wall-clock limit for the whole run; the process group is killed past it. */
  wallMs?: number;
  /** RLIMIT_CPU of each process (soft; SIGXCPU, SIGKILL one second later). */
  cpuSeconds?: number;
  /** RLIMIT_AS of each process: a larger allocation raises MemoryError. */
  memoryBytes?: number;
  /** RLIMIT_NPROC for the run's uid: processes and threads together, init included. */
  maxProcesses?: number;
  /** Interpreter; default /usr/bin/python3 when present (not a pyenv shim under /root), else python3 on PATH. */
  python?: string;
}

export interface SandboxResult {
  /** passed: ran to the end; failed: raised (SystemExit included, as in human-eval) or exited non-zero;
   *  timeout: the wall clock ran out; killed: died of a signal (CPU limit, crash); error: the sandbox broke. */
  status: SandboxStatus;
  exitCode: number | null;
  signal: string | null;
  /** First OUTPUT_CAP bytes of each stream. */
  stdout: string;
  stderr: string;
  ms: number;
}

export interface SandboxCapabilities {
  /** Every layer below was seen in force by a probe run through the same path as a real run. */
  ready: boolean;
  /** What is missing when not ready. */
  reason?: string;
  python: string;
  processGroup: boolean;
  pidNamespace: boolean;
  netNamespace: boolean;
  unprivilegedUid: boolean;
  /** The rlimits the probe saw, with default options. */
  limits?: { cpuSeconds: number; memoryBytes: number; processes: number; fileBytes: number };
}

export const SANDBOX_DEFAULTS = {
  wallMs: 10_000,
  cpuSeconds: 10,
  memoryBytes: 1024 ** 3,
  maxProcesses: 16,
} as const;
const FILE_BYTES = 64 * 1024 ** 2;
const OUTPUT_CAP = 8 * 1024;
// Each run gets a random uid in [first, first + count): far above any real account, below 2^31.
export const SANDBOX_UID_RANGE = { first: 2_000_000_000, count: 1 << 24 } as const;
// The environment the program sees: nothing of ours (no tokens, no proxies), HOME in its throw-away directory.
const PATH = '/usr/local/bin:/usr/bin:/bin';

// pid 1 of the namespace. It sets the limits (as the unprivileged uid, which may only lower them), forks the
// program and reports the program's wait status on fd 3, closed in the program (so no accident can forge it; a
// deliberately hostile program digging through /proc is beyond this); no report means the sandbox itself failed. The program runs via exec() so that, as in human-eval, only running to the end passes:
// an early `sys.exit(0)` / `exit()` is a failure, not a pass.
const INIT = `
import os, sys, resource as R
path = sys.argv[1]
cpu, mem, nproc, fsize = (int(a) for a in sys.argv[2:6])
R.setrlimit(R.RLIMIT_CPU, (cpu, cpu + 1))
R.setrlimit(R.RLIMIT_AS, (mem, mem))
R.setrlimit(R.RLIMIT_NPROC, (nproc, nproc))
R.setrlimit(R.RLIMIT_FSIZE, (fsize, fsize))
R.setrlimit(R.RLIMIT_CORE, (0, 0))
pid = os.fork()
if pid == 0:
    os.close(3)
    sys.argv = [path]
    ok = False
    try:
        with open(path) as f:
            src = f.read()
        exec(compile(src, path, "exec"), {"__name__": "__main__", "__file__": path, "__builtins__": __builtins__})
        ok = True
    except BaseException as e:
        try:
            import traceback
            traceback.print_exception(type(e), e, e.__traceback__.tb_next)  # from the program's frame on
        except BaseException:
            pass
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    os._exit(0 if ok else 1)
_, st = os.waitpid(pid, 0)
os.write(3, b"status %d" % os.waitstatus_to_exitcode(st))
`;

// Runs through the same path as a real program and prints what is in force inside.
const PROBE = `
import json, os, resource as R, socket
print(json.dumps({
    "uid": os.getuid(), "euid": os.geteuid(), "pid": os.getpid(), "ppid": os.getppid(),
    "ifaces": [name for _, name in socket.if_nameindex()],
    "cpu": R.getrlimit(R.RLIMIT_CPU)[0], "as": R.getrlimit(R.RLIMIT_AS)[0],
    "nproc": R.getrlimit(R.RLIMIT_NPROC)[0], "fsize": R.getrlimit(R.RLIMIT_FSIZE)[0],
}))
`;

function defaultPython(): string {
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

const probes = new Map<string, Promise<SandboxCapabilities>>();

/** What the sandbox enforces with this interpreter; probed once per interpreter and cached. */
export function sandboxCapabilities(python: string = defaultPython()): Promise<SandboxCapabilities> {
  let probe = probes.get(python);
  if (!probe) {
    probe = runProbe(python).catch((err: unknown) => ({
      python,
      processGroup: true,
      pidNamespace: false,
      netNamespace: false,
      unprivilegedUid: false,
      ready: false,
      reason: `probe failed: ${err instanceof Error ? err.message : String(err)}`,
    }));
    probes.set(python, probe);
    // Only success is remembered: a failed probe (a busy machine, a missing tool since installed) is retried.
    void probe.then((caps) => {
      if (!caps.ready) probes.delete(python);
    });
  }
  return probe;
}

async function runProbe(python: string): Promise<SandboxCapabilities> {
  const base = {
    python,
    processGroup: true,
    pidNamespace: false,
    netNamespace: false,
    unprivilegedUid: false,
  };
  const r = await runUnchecked(PROBE, { ...SANDBOX_DEFAULTS, wallMs: 15_000, python });
  if (r.status !== 'passed') {
    const why = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-3).join(' | ');
    return { ...base, ready: false, reason: `probe run ${r.status}: ${why || 'no output'}` };
  }
  const seen = JSON.parse(r.stdout) as Record<string, number> & { ifaces: string[] };
  const caps: SandboxCapabilities = {
    ...base,
    // The program is init's first child: pid 2, parent 1, only inside a fresh pid namespace.
    pidNamespace: seen.pid === 2 && seen.ppid === 1,
    netNamespace: seen.ifaces.length === 1 && seen.ifaces[0] === 'lo',
    unprivilegedUid: seen.uid >= SANDBOX_UID_RANGE.first && seen.euid === seen.uid,
    limits: { cpuSeconds: seen.cpu, memoryBytes: seen.as, processes: seen.nproc, fileBytes: seen.fsize },
    ready: false,
  };
  const missing: string[] = (['pidNamespace', 'netNamespace', 'unprivilegedUid'] as const).filter(
    (m) => !caps[m],
  );
  const { maxProcesses, memoryBytes, cpuSeconds } = SANDBOX_DEFAULTS;
  if (seen.nproc !== maxProcesses || seen.as !== memoryBytes || seen.cpu !== cpuSeconds) {
    missing.push('rlimits');
  }
  caps.ready = missing.length === 0;
  if (!caps.ready) caps.reason = `not in force: ${missing.join(', ')}`;
  return caps;
}

/** Runs `program` with python inside the sandbox; throws FAILED_PRECONDITION when the sandbox is unavailable. */
export async function runSandboxed(program: string, opts: SandboxOptions = {}): Promise<SandboxResult> {
  const python = opts.python ?? defaultPython();
  const caps = await sandboxCapabilities(python);
  if (!caps.ready) {
    throw new LabError(
      'FAILED_PRECONDITION',
      `the Python sandbox is unavailable (${caps.reason}); refusing to run code without it`,
      'sandbox',
    );
  }
  const limits = { ...SANDBOX_DEFAULTS, ...definedOnly(opts), python };
  for (const key of ['wallMs', 'cpuSeconds', 'memoryBytes', 'maxProcesses'] as const) {
    const v = limits[key];
    // init and the program are two processes already.
    const min = key === 'maxProcesses' ? 2 : 1;
    if (!Number.isInteger(v) || v < min) {
      throw new LabError('INVALID_ARGUMENT', `${key}: must be an integer >= ${min}, got ${v}`, key);
    }
  }
  return runUnchecked(program, limits);
}

type Limits = Required<SandboxOptions>;

async function runUnchecked(program: string, limits: Limits): Promise<SandboxResult> {
  const uid = SANDBOX_UID_RANGE.first + randomInt(SANDBOX_UID_RANGE.count);
  const dir = await mkdtemp(join(tmpdir(), 'lab-sandbox-'));
  try {
    const file = join(dir, 'program.py');
    await writeFile(file, program, { mode: 0o600 });
    // The program may write only here; 0700 of its own keeps other runs (other uids) out.
    await chown(file, uid, uid);
    await chown(dir, uid, uid);
    return await execute(file, dir, uid, limits);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function execute(file: string, dir: string, uid: number, limits: Limits): Promise<SandboxResult> {
  const started = performance.now();
  const args = [
    ...['--net', '--pid', '--fork', '--kill-child', '--'],
    ...['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups'],
    ...['--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--'],
    ...[limits.python, '-I', '-c', INIT, file],
    ...[limits.cpuSeconds, limits.memoryBytes, limits.maxProcesses, FILE_BYTES].map(String),
  ];
  const env = { PATH, HOME: dir, TMPDIR: dir, LANG: 'C.UTF-8' };
  const child = spawn('unshare', args, {
    cwd: dir,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  const stdout = capture(child.stdout);
  const stderr = capture(child.stderr);
  const report = capture(child.stdio[3] as Readable);
  let timedOut = false;
  let spawnError: Error | undefined;

  const killGroup = (): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  let backstop: NodeJS.Timeout | undefined;
  const wall = setTimeout(() => {
    timedOut = true;
    killGroup();
    // Pipes close when their last holder dies, which the pid namespace guarantees; should a holder linger,
    // stop waiting for it after a few seconds rather than hang the evaluation.
    backstop = setTimeout(() => {
      for (const s of [child.stdout, child.stderr, child.stdio[3]]) s?.destroy();
    }, 5_000);
  }, limits.wallMs);

  return new Promise((resolve) => {
    child.on('error', (err) => {
      spawnError = err;
    });
    child.on('close', async (code, signal) => {
      clearTimeout(wall);
      clearTimeout(backstop);
      const reported = /^status (-?\d+)$/.exec(report.text());
      // Belt and braces after an abnormal end: no process of this run's uid may survive it.
      if (timedOut || !reported) await killUid(uid).catch(() => {});
      const base = {
        stdout: stdout.text(),
        stderr: stderr.text(),
        ms: Math.round(performance.now() - started),
      };
      if (reported) {
        const st = Number(reported[1]);
        if (st === 0) return resolve({ ...base, status: 'passed', exitCode: 0, signal: null });
        if (st > 0) return resolve({ ...base, status: 'failed', exitCode: st, signal: null });
        return resolve({ ...base, status: 'killed', exitCode: null, signal: signalName(-st) });
      }
      if (timedOut) return resolve({ ...base, status: 'timeout', exitCode: null, signal: 'SIGKILL' });
      const why = spawnError ? `sandbox did not start: ${spawnError.message}\n` : '';
      resolve({ ...base, stderr: why + base.stderr, status: 'error', exitCode: code, signal });
    });
  });
}

/** Keeps the first OUTPUT_CAP bytes and drains the rest, so a chatty program neither blocks nor eats memory. */
function capture(stream: Readable | null): { text(): string } {
  const chunks: Buffer[] = [];
  let kept = 0;
  let dropped = 0;
  stream?.on('data', (chunk: Buffer) => {
    const room = OUTPUT_CAP - kept;
    if (room > 0) {
      chunks.push(chunk.subarray(0, room));
      kept += Math.min(room, chunk.length);
    }
    dropped += Math.max(0, chunk.length - Math.max(room, 0));
  });
  stream?.on('error', () => {});
  return {
    text: () =>
      Buffer.concat(chunks).toString('utf8') + (dropped > 0 ? `\n[${dropped} more bytes dropped]` : ''),
  };
}

function signalName(n: number): string {
  const entry = Object.entries(osConstants.signals).find(([, v]) => v === n);
  return entry ? entry[0] : `signal ${n}`;
}

/** Host pids of running (not zombie) processes whose real uid is a sandbox uid, or the given one. */
export async function listSandboxProcesses(uid?: number): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let status: string;
    try {
      status = await readFile(`/proc/${name}/status`, 'utf8');
    } catch {
      continue; // Exited meanwhile.
    }
    // A zombie runs nothing; a killed init's waits for the host's pid 1 to reap it, which can take seconds here.
    if (/^State:\s+[ZX]/m.test(status)) continue;
    const real = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
    const { first, count } = SANDBOX_UID_RANGE;
    if (uid === undefined ? real >= first && real < first + count : real === uid) pids.push(Number(name));
  }
  return pids;
}

async function killUid(uid: number): Promise<void> {
  const deadline = Date.now() + 3_000;
  for (;;) {
    const pids = await listSandboxProcesses(uid);
    if (pids.length === 0 || Date.now() > deadline) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Exited meanwhile.
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

function definedOnly(opts: SandboxOptions): Partial<Limits> {
  return Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as Partial<Limits>;
}
