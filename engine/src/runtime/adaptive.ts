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
  /** Re-measure the alternatives every this many runs. */
  probeEvery?: number;
  /** Runs per measurement (the first run of each session is a warm-up and not counted). */
  probeRuns?: number;
  /**
   * Every run passes a buffer for each output it wants: use BoundSessions where available, which write
   * into those buffers without onnxruntime-node's copy of every output (see bound.ts).
   */
  bound?: boolean;
}

/** An alternative replaces the active session only when its median run is at least 5% shorter. */
const SWITCH_MARGIN = 0.95;

export class AdaptiveSession {
  private active = 0;
  private runs = 0;
  private readonly recent: number[][];
  private readonly warmed: boolean[];
  private probing: { k: number; left: number } | undefined;
  private readonly probeEvery: number;
  private readonly probeRuns: number;

  private constructor(
    readonly sessions: (Session | BoundSession)[],
    readonly labels: string[],
    opts: AdaptiveOptions,
  ) {
    this.recent = sessions.map(() => []);
    this.warmed = sessions.map(() => false);
    this.probeEvery = opts.probeEvery ?? 200;
    this.probeRuns = opts.probeRuns ?? 4;
    // Start by measuring every variant in turn.
    if (sessions.length > 1) this.probing = { k: 0, left: this.probeRuns + 1 };
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
    return this.labels[this.active];
  }

  private median(k: number): number {
    const r = [...this.recent[k]].sort((a, b) => a - b);
    return r.length ? r[r.length >> 1] : Number.POSITIVE_INFINITY;
  }

  private choose(): number {
    if (this.probing) return this.probing.k;
    return this.active;
  }

  async run(feeds: Feeds, fetches?: Fetches): Promise<ort.InferenceSession.ReturnType> {
    const k = this.choose();
    const t0 = performance.now();
    const s = this.sessions[k];
    const out = fetches ? await s.run(feeds, fetches) : await runWithoutFetches(s, feeds);
    const dt = performance.now() - t0;
    if (this.sessions.length === 1) return out;
    if (!this.warmed[k]) this.warmed[k] = true;
    else {
      this.recent[k].push(dt);
      // The active session keeps a longer record than a probe takes, so one slow stretch doesn't decide.
      if (this.recent[k].length > 3 * this.probeRuns) this.recent[k].shift();
    }
    this.runs++;
    if (this.probing) {
      this.probing.left--;
      if (this.probing.left <= 0) {
        const next = this.probing.k + 1;
        const initial = this.runs <= this.sessions.length * (this.probeRuns + 1);
        if (initial && next < this.sessions.length) this.probing = { k: next, left: this.probeRuns + 1 };
        else {
          this.probing = undefined;
          let best = this.active;
          for (let j = 0; j < this.sessions.length; j++) if (this.median(j) < this.median(best)) best = j;
          // Switch only for a clear gain: on a noisy VM four runs often rank the variants wrongly, and a wrong
          // switch costs up to probeEvery runs on the slower one.
          if (this.median(best) < SWITCH_MARGIN * this.median(this.active)) this.active = best;
        }
      }
    } else if (this.runs % this.probeEvery === 0) {
      // Try one alternative (round robin) for a few runs; keep the active session's recent times.
      const alt =
        (this.active + 1 + ((this.runs / this.probeEvery) % (this.sessions.length - 1))) %
        this.sessions.length;
      this.recent[alt] = [];
      this.probing = { k: alt, left: this.probeRuns };
    }
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
