import { type ChildProcess, spawn } from 'node:child_process';

export interface ChildSpec {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** Where the child's output goes: through to our stdio, or kept (last lines) for diagnostics. */
  output: 'inherit' | 'buffer';
}

/** When a child that exits unexpectedly is started again (docs/architecture.md, "Processes"). */
export interface RestartTimings {
  /** Delay before the first restart, and again after a stable run. */
  minBackoffMs: number;
  /** The delay doubles with each crash up to this. */
  maxBackoffMs: number;
  /** A child that stayed up this long is considered healthy again: its next crash restarts quickly. */
  stableAfterMs: number;
}

export const RESTART_TIMINGS: Readonly<RestartTimings> = {
  minBackoffMs: 500,
  maxBackoffMs: 10_000,
  stableAfterMs: 30_000,
};

/** How long stop() waits after SIGTERM before SIGKILL. */
export const STOP_GRACE_MS = 4000;

/** One supervised process: restarted with exponential backoff when it exits unexpectedly. */
export class SupervisedChild {
  process?: ChildProcess;
  restarts = 0;
  private backoff: number;
  private stopping = false;
  private restartTimer?: NodeJS.Timeout;
  private readonly lines: string[] = [];

  constructor(
    readonly spec: ChildSpec,
    private readonly onEvent: (msg: string) => void,
    private readonly timings: Readonly<RestartTimings> = RESTART_TIMINGS,
  ) {
    this.backoff = timings.minBackoffMs;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** Last lines of output (buffer mode), for error messages. */
  get recentOutput(): string {
    return this.lines.join('');
  }

  start(): void {
    const started = Date.now();
    const child = spawn(this.spec.command, this.spec.args, {
      env: this.spec.env,
      stdio: this.spec.output === 'inherit' ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'],
    });
    this.process = child;
    if (this.spec.output === 'buffer') {
      const keep = (chunk: Buffer) => {
        this.lines.push(chunk.toString());
        if (this.lines.length > 200) this.lines.splice(0, this.lines.length - 200);
      };
      child.stdout?.on('data', keep);
      child.stderr?.on('data', keep);
    }
    child.on('exit', (code, signal) => {
      if (this.process !== child || this.stopping) return;
      if (Date.now() - started > this.timings.stableAfterMs) this.backoff = this.timings.minBackoffMs;
      const delay = this.backoff;
      this.backoff = Math.min(this.backoff * 2, this.timings.maxBackoffMs);
      this.onEvent(`${this.spec.name} exited (${signal ?? `code ${code}`}); restarting in ${delay} ms`);
      this.restartTimer = setTimeout(() => {
        this.restarts++;
        this.start();
      }, delay);
    });
  }

  /** From now on an exit is expected: no restart. */
  markStopping(): void {
    this.stopping = true;
    clearTimeout(this.restartTimer);
  }

  /** SIGTERM, then SIGKILL after graceMs; resolves when the process is gone. */
  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    this.markStopping();
    clearTimeout(this.restartTimer);
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}
