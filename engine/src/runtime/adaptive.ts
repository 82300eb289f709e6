// One graph, several sessions with different threading, and the fastest one picked by timing real runs.
// Why: on a quiet 2-core machine two spinning intra-op threads are fastest (nanogpt-cpu step ~41 ms vs
// ~71 ms on one thread), but when other processes compete for the cores every parallel kernel waits on a
// descheduled thread: measured means 145-174 ms (2 threads, spinning), 103-107 (2, no spinning), 91 (1).
// Runs are bitwise identical across these settings for our graphs (checked), so switching is invisible
// to the numbers (dropout masks are graph inputs, so no session has a random stream of its own).
import os from 'node:os';
import { BoundSession } from './bound.ts';
import { createSession, type ort, type Session, type SessionOptions } from './session.ts';

type Feeds = Record<string, ort.Tensor>;
type Fetches = Record<string, ort.Tensor>;

export interface AdaptiveOptions {
  /** Re-measure the alternatives at least every this many runs, and sooner when run times drift. */
  probeEvery?: number;
  /** Runs per measurement (the first run of each session is a warm-up and not counted). */
  probeRuns?: number;
  /**
   * Every run passes a buffer for each output it wants: use BoundSessions where available, which write
   * into those buffers without onnxruntime-node's copy of every output (see bound.ts).
   */
  bound?: boolean;
}

/**
 * Which of n variants to run next, from the times of the runs so far; AdaptiveSession times its runs and
 * reports them here. It measures every variant first, then runs the fastest, and measures the others again
 * when the active variant's median moves by more than half from what it was when chosen (the machine got
 * busier or quieter), or else every `probeEvery` runs. Probing has a price (one thread runs a nanogpt-cpu
 * step in ~2× the time of two on a quiet machine), so it happens only when the machine seems to have changed.
 * The first run, and runs that start within SETTLE_MS of a change of variant, are not counted (so neither is
 * any variant's first run, a warm-up).
 */
export class VariantChooser {
  private active = 0;
  private runs = 0;
  private lastProbe = 0;
  private baseline = Number.POSITIVE_INFINITY;
  private readonly recent: number[][];
  /** The variant of the last run reported (-1: none yet). */
  private last = -1;
  /** Time still to pass since the last change of variant before runs count (SETTLE_MS). */
  private settling = 0;
  /** Variants still to measure in this probe, the current one first, and its runs left. */
  private probing: { queue: number[]; left: number } | undefined;

  constructor(
    readonly count: number,
    private readonly probeEvery = 1000,
    private readonly probeRuns = 4,
  ) {
    this.recent = Array.from({ length: count }, () => []);
    if (count > 1) this.startProbe(Array.from({ length: count }, (_, k) => k));
  }

  /** The variant currently preferred. */
  get preferred(): number {
    return this.active;
  }

  /** The variant to run now. */
  next(): number {
    return this.probing ? this.probing.queue[0] : this.active;
  }

  /** Report that variant k's run took `ms`. */
  record(k: number, ms: number): void {
    if (this.count === 1) return;
    this.runs++;
    // The first run of every variant is uncounted (a warm-up): the first run of all, or one after a change.
    const first = this.last === -1;
    if (!first && k !== this.last) this.settling = SETTLE_MS;
    this.last = k;
    const uncounted = first || this.settling > 0;
    this.settling = Math.max(0, this.settling - ms);
    if (uncounted) return;
    this.recent[k].push(ms);
    // The active variant keeps a longer record than a probe takes, so one slow stretch doesn't decide.
    if (this.recent[k].length > 3 * this.probeRuns) this.recent[k].shift();
    const p = this.probing;
    if (p) {
      if (--p.left > 0) return;
      p.queue.shift();
      if (p.queue.length) p.left = this.probeRuns;
      else this.finishProbe();
      return;
    }
    const since = this.runs - this.lastProbe;
    const drift = Math.abs(this.median(this.active) / this.baseline - 1);
    const settled = this.recent[this.active].length >= 2 * this.probeRuns;
    if (since >= this.probeEvery || (settled && drift > DRIFT && since >= DRIFT_GAP)) {
      const others = Array.from({ length: this.count }, (_, j) => j).filter((j) => j !== this.active);
      for (const j of others) this.recent[j] = [];
      this.startProbe(others);
    }
  }

  private startProbe(queue: number[]): void {
    this.probing = { queue, left: this.probeRuns };
  }

  private finishProbe(): void {
    this.probing = undefined;
    this.lastProbe = this.runs;
    let best = this.active;
    for (let j = 0; j < this.count; j++) if (this.median(j) < this.median(best)) best = j;
    // Switch only for a clear gain: on a noisy VM four runs often rank the variants wrongly.
    if (this.median(best) < SWITCH_MARGIN * this.median(this.active)) {
      this.active = best;
    }
    this.baseline = this.median(this.active);
  }

  private median(k: number): number {
    const r = [...this.recent[k]].sort((a, b) => a - b);
    return r.length ? r[r.length >> 1] : Number.POSITIVE_INFINITY;
  }
}

/**
 * After a change of variant, runs that start within this many ms are not counted. Why: the threads of the
 * variant that ran before go on spinning for ~25 ms (ORT's default; a GPT-2 small prompt session's worker
 * burned 22–26 ms of CPU in the 40 ms after its run), so the next variant's first runs share the cores with
 * them: decoding probes measured "2 threads, no spin" at 17–26 ms for its first runs, 12–13 after.
 */
const SETTLE_MS = 30;
/** An alternative replaces the active variant only when its median run is at least 5% shorter. */
const SWITCH_MARGIN = 0.95;
/**
 * A change of the active variant's median by more than this fraction triggers a new measurement... Why not
 * less: on this VM the read bandwidth alone moves a GPT-2 small token's median by 25–30% within minutes
 * (10.5 → 13.5 ms), and each probe then spent ~10 runs on variants ~1.7× slower (~2.5% of decoding), while
 * another process on one of 2 cores makes two spinning threads 2.5–4× slower (training steps, above).
 */
const DRIFT = 0.5;
/** ...but not sooner than this many runs after the last one. */
const DRIFT_GAP = 100;

export class AdaptiveSession {
  private readonly chooser: VariantChooser;

  private constructor(
    readonly sessions: (Session | BoundSession)[],
    readonly labels: string[],
    opts: AdaptiveOptions,
  ) {
    this.chooser = new VariantChooser(sessions.length, opts.probeEvery, opts.probeRuns);
  }

  /**
   * Sessions for `model` with threads = cores (spinning), cores without spinning, and 1 thread; or just
   * one session when `adaptive` is false or there is a single core.
   */
  static async create(
    model: Uint8Array,
    base: SessionOptions,
    adaptive: boolean,
    opts: AdaptiveOptions = {},
  ): Promise<AdaptiveSession> {
    const cores = Math.max(1, os.availableParallelism());
    const variants: [string, SessionOptions][] =
      adaptive && cores > 1
        ? [
            [`${cores} threads`, { ...base, threads: cores }],
            [`${cores} threads, no spin`, { ...base, threads: cores, spin: false }],
            ['1 thread', { ...base, threads: 1 }],
          ]
        : [['default', base]];
    const sessions: (Session | BoundSession)[] = [];
    try {
      for (const [, o] of variants)
        sessions.push(
          (opts.bound ? await BoundSession.create(model, o) : null) ?? (await createSession(model, o)),
        );
    } catch (e) {
      await Promise.all(sessions.map((s) => s.release()));
      throw e;
    }
    return new AdaptiveSession(
      sessions,
      variants.map(([l]) => l),
      opts,
    );
  }

  /** Label of the session currently preferred. */
  get current(): string {
    return this.labels[this.chooser.preferred];
  }

  async run(feeds: Feeds, fetches?: Fetches): Promise<ort.InferenceSession.ReturnType> {
    const k = this.chooser.next();
    const t0 = performance.now();
    const s = this.sessions[k];
    const out = fetches ? await s.run(feeds, fetches) : await runWithoutFetches(s, feeds);
    this.chooser.record(k, performance.now() - t0);
    return out;
  }

  async release(): Promise<void> {
    await Promise.all(this.sessions.map((s) => s.release()));
  }
}

function runWithoutFetches(
  s: Session | BoundSession,
  feeds: Feeds,
): Promise<ort.InferenceSession.ReturnType> {
  if (s instanceof BoundSession) throw new Error('a bound session needs a buffer for each output it returns');
  return s.run(feeds);
}
