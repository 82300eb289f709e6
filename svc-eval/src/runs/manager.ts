// Eval runs as jobs: submitted runs wait in a queue and run one at a time (scoring is bound by the CPU,
// so two at once would only each take twice as long), report progress, can be cancelled, and keep their
// scores and items in lmdb. Progress and state changes go to watchers (WatchRun, the gateway's SSE) and
// to the bus as `lab.eval.<id>.progress` / `lab.eval.<id>.state`. A run that was running when the
// service stopped is queued again at start: scoring is deterministic, so it starts over from its first item.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { type EventBus, LabError, type Logger, type Store } from '@lab/common';
import type { EvalItem, EvalRun, EvalRunEvent, MetricValue, PromptFormat } from '@lab/proto/eval';
import { RunStore } from './store.ts';

export interface RunContext {
  signal: AbortSignal;
  progress(done: number, total: number, message?: string): void;
  addItems(items: readonly EvalItem[]): void;
  /** The prompt format, recorded as soon as the first item is rendered. */
  setPrompt(prompt: PromptFormat): void;
}

export interface RunOutcome {
  metrics: MetricValue[];
  details?: Record<string, unknown>;
  tokens: number;
}

export type Executor = (run: EvalRun, ctx: RunContext) => Promise<RunOutcome>;

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
export const isTerminal = (state: string): boolean => TERMINAL.has(state);

const PROGRESS_EVERY_MS = 250;

export class RunManager {
  readonly runs: RunStore;
  private readonly queue: string[] = [];
  private readonly changes = new EventEmitter();
  private readonly seqs = new Map<string, number>();
  private current?: { id: string; abort: AbortController };
  private pumping = false;
  private closed = false;

  constructor(
    store: Store,
    private readonly bus: EventBus,
    private readonly log: Logger,
    private readonly execute: Executor,
  ) {
    this.runs = new RunStore(store);
    this.changes.setMaxListeners(0);
    for (const run of this.runs.list().reverse()) {
      if (run.state === 'running') {
        run.state = 'queued';
        run.progress = { done: 0, total: 0, message: 'queued again after a restart of svc-eval' };
        this.runs.clearItems(run.id);
        this.runs.put(run);
      }
      if (run.state === 'queued') this.queue.push(run.id);
    }
    void this.pump();
  }

  submit(fields: Omit<EvalRun, 'id' | 'state' | 'createdAt' | 'progress' | 'metrics'>): EvalRun {
    const run: EvalRun = {
      ...fields,
      id: `ev-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`,
      state: 'queued',
      createdAt: new Date().toISOString(),
      progress: { done: 0, total: 0, message: this.current ? 'waiting for the run before it' : '' },
      metrics: [],
    };
    this.runs.put(run);
    this.queue.push(run.id);
    this.emit(run, 'state');
    void this.pump();
    return run;
  }

  get(id: string): EvalRun {
    const run = this.runs.get(id);
    if (!run) throw new LabError('NOT_FOUND', `id: no eval run ${id}`, 'id');
    return run;
  }

  cancel(id: string): EvalRun {
    const run = this.get(id);
    if (isTerminal(run.state))
      throw new LabError(
        'FAILED_PRECONDITION',
        `id: run ${id} has already ${run.state === 'completed' ? 'completed' : 'ended'}`,
        'id',
      );
    if (this.current?.id === id) {
      this.current.abort.abort();
      return run;
    }
    const i = this.queue.indexOf(id);
    if (i >= 0) this.queue.splice(i, 1);
    return this.finish(run, { state: 'cancelled', error: 'cancelled before it started' });
  }

  /** The run as it is now, then each change, until it ends or `signal` aborts. */
  async *watch(id: string, signal: AbortSignal): AsyncGenerator<EvalRunEvent> {
    const pending: EvalRunEvent[] = [];
    let wake: (() => void) | undefined;
    const onEvent = (e: EvalRunEvent) => {
      pending.push(e);
      wake?.();
    };
    this.changes.on(id, onEvent);
    const onAbort = () => wake?.();
    signal.addEventListener('abort', onAbort);
    try {
      const now = this.get(id);
      yield { seq: this.seqs.get(id) ?? 0, kind: isTerminal(now.state) ? 'done' : 'state', run: now };
      if (isTerminal(now.state)) return;
      while (!signal.aborted) {
        while (pending.length) {
          const e = pending.shift()!;
          yield e;
          if (e.kind === 'done') return;
        }
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = undefined;
      }
    } finally {
      this.changes.off(id, onEvent);
      signal.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.current?.abort.abort();
    while (this.pumping) await new Promise((r) => setTimeout(r, 20));
  }

  private emit(run: EvalRun, kind: 'state' | 'progress' | 'done'): void {
    const seq = (this.seqs.get(run.id) ?? 0) + 1;
    this.seqs.set(run.id, seq);
    this.changes.emit(run.id, { seq, kind, run } satisfies EvalRunEvent);
    const subject = `lab.eval.${run.id}.${kind === 'progress' ? 'progress' : 'state'}`;
    this.bus
      .publish(subject, {
        runId: run.id,
        model: run.model,
        task: run.task,
        state: run.state,
        progress: run.progress,
        metrics: run.metrics,
        error: run.error,
      })
      .catch((err) =>
        this.log.warn('could not publish an eval event', { runId: run.id, error: String(err) }),
      );
  }

  private finish(run: EvalRun, change: Partial<EvalRun>): EvalRun {
    const next: EvalRun = { ...run, ...change, finishedAt: new Date().toISOString() };
    if (run.startedAt) next.seconds = (Date.parse(next.finishedAt) - Date.parse(run.startedAt)) / 1000;
    this.runs.put(next);
    this.emit(next, 'done');
    return next;
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.closed && this.queue.length) {
        const id = this.queue.shift()!;
        const queued = this.runs.get(id);
        if (queued?.state !== 'queued') continue;
        await this.runOne(queued);
      }
    } finally {
      this.pumping = false;
    }
  }

  private async runOne(queued: EvalRun): Promise<void> {
    const abort = new AbortController();
    this.current = { id: queued.id, abort };
    let run: EvalRun = {
      ...queued,
      state: 'running',
      startedAt: new Date().toISOString(),
      progress: { done: 0, total: 0, message: 'starting' },
    };
    this.runs.put(run);
    this.emit(run, 'state');
    let items = 0;
    let lastProgress = 0;
    const ctx: RunContext = {
      signal: abort.signal,
      progress: (done, total, message = '') => {
        run = { ...run, progress: { done, total, message } };
        const now = Date.now();
        if (now - lastProgress < PROGRESS_EVERY_MS && done < total) return;
        lastProgress = now;
        this.runs.put(run);
        this.emit(run, 'progress');
      },
      addItems: (list) => {
        this.runs.addItems(run.id, list);
        items += list.length;
      },
      setPrompt: (prompt) => {
        run = { ...run, prompt };
        this.runs.put(run);
      },
    };
    try {
      const out = await this.execute(run, ctx);
      if (abort.signal.aborted) throw new LabError('CANCELLED', 'cancelled', 'id');
      run = this.finish(run, {
        state: 'completed',
        metrics: out.metrics,
        items,
        tokens: out.tokens,
        detailsJson: out.details ? JSON.stringify(out.details) : '',
        progress: { ...run.progress!, done: run.progress!.total || run.progress!.done, message: 'done' },
      });
      this.log.info(`eval run ${run.id} completed`, {
        task: run.task,
        model: run.model,
        seconds: run.seconds,
      });
    } catch (err) {
      if (this.closed) {
        // Stopping the service is not the user cancelling: the run starts again with the next svc-eval.
        this.runs.clearItems(run.id);
        this.runs.put({
          ...run,
          state: 'queued',
          progress: { done: 0, total: 0, message: 'queued again: svc-eval stopped' },
        });
      } else if (abort.signal.aborted) {
        this.finish(run, { state: 'cancelled', error: 'cancelled', items });
      } else {
        const message = (err as Error).message;
        this.log.warn(`eval run ${run.id} failed`, { error: message });
        this.finish(run, { state: 'failed', error: message, items });
      }
    } finally {
      this.current = undefined;
    }
  }
}
