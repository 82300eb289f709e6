// Trace sessions (the engine's TraceModel), one per loaded model, made on the first trace and released
// with the model: decoding keeps its own fused graph and pays nothing for tracing. The weights are the
// pool model's checkpoint mapped again, whose pages the page cache shares with the decoding session's.
import type { InferenceModel, TraceModel as Tracer } from '@lab/engine';
import { TraceModel } from '@lab/engine';
import type { LoadedModel, ModelPool } from '../models/pool.ts';

interface Open {
  /** The pool's model the session was made for: a reload (new weights) makes a new session. */
  lm: InferenceModel;
  tracer: Promise<Tracer>;
}

export class Tracers {
  private readonly open = new Map<string, Open>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pool: ModelPool,
    sweepMs = 10_000,
  ) {
    // The pool unloads idle models on its own timer and to make room; their sessions follow here.
    this.timer = setInterval(() => void this.sweep(), sweepMs);
    this.timer.unref();
  }

  /** The trace session of a model the caller holds (pool.hold / pool.use). */
  get(model: LoadedModel): Promise<Tracer> {
    const name = model.entry.name;
    const have = this.open.get(name);
    if (have?.lm === model.lm) return have.tracer;
    if (have) void this.drop(name);
    const tracer = TraceModel.load(model.entry.path);
    const entry: Open = { lm: model.lm, tracer };
    this.open.set(name, entry);
    tracer.catch(() => {
      if (this.open.get(name) === entry) this.open.delete(name);
    });
    return tracer;
  }

  /** Whether a model has a trace session (made or being made). */
  isOpen(name: string): boolean {
    return this.open.has(name);
  }

  /** Releases a model's session (after its runs). */
  async drop(name: string): Promise<void> {
    const have = this.open.get(name);
    if (!have) return;
    this.open.delete(name);
    await (await have.tracer.catch(() => undefined))?.release();
  }

  /** Releases the sessions of models the pool no longer holds. */
  async sweep(): Promise<void> {
    for (const name of [...this.open.keys()]) if (!this.pool.isLoaded(name)) await this.drop(name);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const name of [...this.open.keys()]) await this.drop(name);
  }
}
