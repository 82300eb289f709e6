// The job queue's engine room: stores submitted jobs, takes them from the shared work queue (one job per
// slot, `concurrency` slots per process), runs each in a worker thread, turns its messages into stored and
// published events, carries out pause/cancel/resume, and recovers jobs whose worker died.
//
// Exactly once: the work queue hands a job's message to one worker, and the worker then claims the job in
// an lmdb transaction (queued → running, or running with an expired lease → running here). A message for a
// job that is finished, paused or running with a live lease elsewhere is acknowledged and dropped: every
// running job's own message is held (and kept with working() heartbeats) by its runner, so the queue hands
// it out again if that runner dies; independently, a reaper re-queues running jobs whose lease expired.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkItem, WorkQueue } from '@lab/common';
import { type EventBus, fromServiceError, LabError, type Logger, type Store } from '@lab/common';
import type { SubmitJobRequest } from '@lab/proto/train';
import { isBuiltinName } from '@lab/tokenizer';
import { prepareFinetune } from '../finetune/prepare.ts';
import { fieldError } from './field-error.ts';
import { DATASET_META, DATASET_TOKENS } from './resolve-tokens.ts';
import { TrainRun } from './runner.ts';
import { JobStore, type NewPoint } from './store.ts';
import { isTerminal, type JobPoint, type JobRecord, type WorkerMessage } from './types.ts';
import { validateSubmit } from './validate.ts';

/** What travels through the work queue: only the id; the job itself is in the store. */
export interface QueueMessage {
  jobId: string;
}

export interface JobManagerOptions {
  home: string;
  store: Store;
  bus: EventBus;
  log: Logger;
  queue: WorkQueue<QueueMessage>;
  /** Jobs this process runs at once (default 1). */
  concurrency?: number;
  /** How long a running job's claim lasts without a heartbeat before another worker may take it over. */
  leaseMs?: number;
  /** This worker's id (default: host-pid-random). */
  workerId?: string;
  /**
   * tokenizer.json of a tokenizer in svc-tokenize's registry (asked over gRPC: no service reads another's
   * storage); rejects with NOT_FOUND for an unknown name.
   */
  fetchTokenizer(name: string): Promise<string>;
  /** A svc-data version's shards for a tokenizer (asked over gRPC), with the tokenizer they were made with. */
  readDatasetTokens(datasetId: string, version: number, tokenizer: string): Promise<DatasetTokens>;
  /** The folder of a model of svc-infer's registry (asked over gRPC); rejects with NOT_FOUND for an unknown name. */
  resolveModel?(name: string): Promise<string>;
  /** The documents of a svc-data version, in order (asked over gRPC), for fine-tuning examples. */
  readDocuments?(datasetId: string, version: number): Promise<string[]>;
}

/** Tokens of a dataset version: train split first, then val (if the version was split). */
export interface DatasetTokens {
  tokens: Int32Array;
  valStart?: number;
  tokenizerJson: string;
}

interface LocalRun {
  run: TrainRun;
  pausing: boolean;
  cancelling: boolean;
  /** The claim passed to another worker: the run stops without writing and the message is not this worker's. */
  lost: boolean;
}

const notFound = (id: string) => new LabError('NOT_FOUND', `id: no job ${id}`, 'id');
const precondition = (message: string) => new LabError('FAILED_PRECONDITION', message, 'id');

export class JobManager {
  readonly workerId: string;
  private readonly jobs: JobStore;
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly local = new Map<string, LocalRun>();
  private readonly changes = new EventEmitter();
  private readonly closing = new AbortController();
  private readonly loops: Promise<void>[] = [];
  private reaper: ReturnType<typeof setInterval> | undefined;
  private publishing: Promise<void> = Promise.resolve();

  constructor(private readonly opts: JobManagerOptions) {
    this.jobs = new JobStore(opts.store);
    this.concurrency = Math.max(1, opts.concurrency ?? 1);
    this.leaseMs = opts.leaseMs ?? 10_000;
    this.workerId = opts.workerId ?? `${process.pid}-${randomBytes(3).toString('hex')}`;
    this.changes.setMaxListeners(0);
  }

  /** Re-queues what a previous life of the lab left behind, then starts taking jobs. */
  async start(): Promise<void> {
    if (this.opts.queue.kind === 'memory') {
      // An in-process queue died with the process: queued jobs go back in, in submission order.
      const queued = this.jobs
        .list()
        .filter((j) => j.state === 'queued')
        .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
      for (const j of queued) await this.opts.queue.push({ jobId: j.id });
    }
    await this.reap();
    this.reaper = setInterval(
      () => void this.reap().catch((err) => this.opts.log.warn('reaper failed', { error: String(err) })),
      Math.max(250, this.leaseMs / 2),
    );
    for (let i = 0; i < this.concurrency; i++) this.loops.push(this.slot());
  }

  /** Stops taking jobs and ends running ones; their messages come back to the queue after the ack wait. */
  async close(): Promise<void> {
    this.closing.abort();
    clearInterval(this.reaper);
    await Promise.all([...this.local.values()].map((l) => l.run.stop()));
    await Promise.all(this.loops);
    await this.publishing;
  }

  // ---- API ---------------------------------------------------------------------------------------------

  async submit(req: SubmitJobRequest): Promise<JobRecord> {
    const spec = validateSubmit(req);
    const now = new Date().toISOString();
    const id = `job-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    if (spec.finetune) {
      await prepareFinetune(spec, this.jobDir(id), {
        resolveModel: this.opts.resolveModel,
        readDocuments: this.opts.readDocuments,
      });
    } else if (spec.source.kind === 'dataset') {
      const { datasetId, version } = spec.source;
      const data = await this.opts.readDatasetTokens(datasetId, version, spec.tokenizer).catch((err) => {
        const e = fromServiceError(err);
        throw e.code === 'NOT_FOUND'
          ? fieldError('datasetId', `The dataset version could not be found (${e.message}).`)
          : e;
      });
      const dir = this.jobDir(id);
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        join(dir, DATASET_TOKENS),
        new Uint8Array(data.tokens.buffer, data.tokens.byteOffset, data.tokens.byteLength),
      );
      writeFileSync(
        join(dir, DATASET_META),
        JSON.stringify({ valStart: data.valStart, tokens: data.tokens.length }),
      );
      writeFileSync(join(dir, 'tokenizer.json'), data.tokenizerJson);
    } else if (spec.tokenizer !== 'char' && !isBuiltinName(spec.tokenizer)) {
      const json = await this.opts.fetchTokenizer(spec.tokenizer).catch((err) => {
        const e = fromServiceError(err);
        throw e.code === 'NOT_FOUND'
          ? fieldError('tokenizer', `Unknown tokenizer "${spec.tokenizer}" (${e.message}).`)
          : e;
      });
      const dir = this.jobDir(id);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'tokenizer.json'), json);
    }
    const rec: JobRecord = {
      id,
      spec,
      state: 'queued',
      step: 0,
      error: '',
      checkpoints: [],
      checkpointInfo: [],
      createdAt: now,
      updatedAt: now,
      lastSeq: 0,
      lastStepPoint: 0,
      lastEvalPoint: 0,
      pendingAction: '',
      worker: '',
      leaseUntil: 0,
      attempts: 0,
      loss: 0,
      valLoss: 0,
      vocabSize: 0,
      parameters: 0,
    };
    this.emit(id, this.jobs.create(rec, { kind: 'state', step: 0, message: 'queued' }));
    try {
      await this.opts.queue.push({ jobId: id });
    } catch (err) {
      this.mutate(id, (r) => {
        r.state = 'failed';
        r.error = `could not queue the job: ${(err as Error).message}`;
        return [{ kind: 'state', step: 0, message: r.error }];
      });
      throw new LabError('UNAVAILABLE', `the job queue is unavailable: ${(err as Error).message}`);
    }
    return this.jobs.get(id)!;
  }

  get(id: string): JobRecord {
    const rec = this.jobs.get(id);
    if (!rec) throw notFound(id);
    return rec;
  }

  /** Jobs, newest first. */
  list(state = ''): JobRecord[] {
    return this.jobs
      .list()
      .filter((j) => !state || j.state === state)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
  }

  async cancel(id: string): Promise<JobRecord> {
    const r = this.mutate(id, (rec) => {
      if (isTerminal(rec.state)) throw precondition(`job ${id} is already ${rec.state}`);
      if (rec.state === 'running') {
        rec.pendingAction = 'cancel';
        return [];
      }
      rec.state = 'cancelled';
      rec.pendingAction = '';
      return [{ kind: 'state', step: rec.step, message: 'cancelled' }];
    });
    if (r.state === 'running') {
      const l = this.local.get(id);
      if (l) this.control(l, 'cancel');
      return this.waitLeave(id, 'running');
    }
    return r;
  }

  async pause(id: string): Promise<JobRecord> {
    const r = this.mutate(id, (rec) => {
      if (rec.state === 'queued') {
        rec.state = 'paused';
        return [{ kind: 'state', step: rec.step, message: 'paused before it started' }];
      }
      if (rec.state !== 'running')
        throw precondition(`job ${id} is ${rec.state}; only a queued or running job can be paused`);
      if (rec.pendingAction !== 'cancel') rec.pendingAction = 'pause';
      return [];
    });
    if (r.state === 'running') {
      const l = this.local.get(id);
      if (l) this.control(l, 'pause');
      return this.waitLeave(id, 'running');
    }
    return r;
  }

  async resume(id: string): Promise<JobRecord> {
    const r = this.mutate(id, (rec) => {
      if (rec.state !== 'paused')
        throw precondition(`job ${id} is ${rec.state}; only a paused job can be resumed`);
      rec.state = 'queued';
      return [{ kind: 'state', step: rec.step, message: `queued to continue from step ${rec.step}` }];
    });
    await this.opts.queue.push({ jobId: id });
    return r;
  }

  /** The stored history after `afterSeq`, then live events, until the job is completed, failed or cancelled. */
  async *watch(id: string, afterSeq: number, signal: AbortSignal): AsyncGenerator<JobPoint> {
    this.get(id);
    let last = afterSeq;
    for (;;) {
      const points = this.jobs.points(id, last);
      for (const p of points) {
        if (signal.aborted) return;
        yield p;
        last = p.seq;
      }
      if (points.length === 1000) continue;
      const rec = this.jobs.get(id)!;
      if (isTerminal(rec.state) && rec.lastSeq <= last) return;
      // Woken at once by changes made in this process; polls for those of other processes sharing the store.
      await this.waitChange(id, 250, signal);
      if (signal.aborted || this.closing.signal.aborted) return;
    }
  }

  // ---- internals ---------------------------------------------------------------------------------------

  private mutate(id: string, change: (rec: JobRecord) => NewPoint[] | undefined): JobRecord {
    const r = this.jobs.mutate(id, change);
    if (!r.rec) throw notFound(id);
    this.emit(id, r.points);
    return r.rec;
  }

  /** Wakes local watchers and publishes events on the bus, in order. */
  private emit(id: string, points: JobPoint[]): void {
    this.changes.emit(id);
    if (!points.length) return;
    const bus = this.opts.bus;
    this.publishing = this.publishing.then(async () => {
      for (const p of points) {
        const subject = p.kind === 'state' ? `lab.job.${id}.state` : `lab.run.${id}.metrics`;
        await bus
          .publish(subject, { jobId: id, ...p })
          .catch((err) =>
            this.opts.log.warn('could not publish a job event', { jobId: id, error: String(err) }),
          );
      }
    });
  }

  private waitChange(id: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.changes.off(id, done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.changes.on(id, done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Waits (up to 30 s) until the job leaves `state`, and answers it as it is then. */
  private async waitLeave(id: string, state: JobRecord['state']): Promise<JobRecord> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const rec = this.get(id);
      if (rec.state !== state || Date.now() > deadline) return rec;
      await this.waitChange(id, 100);
    }
  }

  private async slot(): Promise<void> {
    const signal = this.closing.signal;
    while (!signal.aborted) {
      let item: WorkItem<QueueMessage> | undefined;
      try {
        item = await this.opts.queue.pull({ signal });
      } catch (err) {
        this.opts.log.warn('work queue pull failed', { error: String(err) });
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      if (!item) continue;
      try {
        await this.take(item);
      } catch (err) {
        this.opts.log.error('job handling failed', { jobId: item.data.jobId, error: (err as Error).stack });
        item.nak(1000);
      }
    }
  }

  /** Claims the job of a queue message and runs it, or drops a message that has nothing left to do. */
  private async take(item: WorkItem<QueueMessage>): Promise<void> {
    const id = item.data.jobId;
    const me = this.workerId;
    const claim = this.jobs.mutate(id, (rec) => {
      const now = Date.now();
      const stale = rec.state === 'running' && rec.leaseUntil < now;
      if (rec.state !== 'queued' && !stale) return undefined;
      const previous = rec.worker;
      rec.state = 'running';
      rec.worker = me;
      rec.leaseUntil = now + this.leaseMs;
      rec.attempts++;
      const message = stale
        ? `worker ${previous} stopped responding; worker ${me} takes over from the last checkpoint`
        : rec.attempts > 1
          ? `resumed on worker ${me}`
          : `started on worker ${me}`;
      return [{ kind: 'state', step: rec.step, message }];
    });
    if (!claim.changed) {
      await item.ack();
      return;
    }
    this.emit(id, claim.points);
    await this.run(claim.rec!, item);
  }

  /** A job's folder: its checkpoints, and the tokenizer it trains with. */
  private jobDir(id: string): string {
    return join(this.opts.home, 'train', 'jobs', id);
  }

  /**
   * Runs a claimed job to its end here: its worker thread, a heartbeat that keeps the claim, the control a
   * request left on the record, and the relay of its messages into the store. The queue message is acked
   * once the job left `running` here; on shutdown it is left for redelivery.
   */
  private async run(rec: JobRecord, item: WorkItem<QueueMessage>): Promise<void> {
    const local = this.open(rec);
    const beat = setInterval(() => this.beat(rec.id, item, local), Math.min(500, this.leaseMs / 4));
    try {
      this.control(local, rec.pendingAction);
      await this.relay(rec.id, local);
      if (this.shuttingDownWith(rec.id, local)) return;
      await item.ack().catch(() => {});
    } finally {
      clearInterval(beat);
      this.local.delete(rec.id);
    }
  }

  /** Starts the job's worker thread in its folder, resuming from no checkpoint the record does not hold. */
  private open(rec: JobRecord): LocalRun {
    const dir = this.jobDir(rec.id);
    mkdirSync(dir, { recursive: true });
    const run = new TrainRun({
      jobId: rec.id,
      spec: rec.spec,
      dir,
      home: this.opts.home,
      resumeLimit: resumeLimit(rec),
    });
    const local: LocalRun = { run, pausing: false, cancelling: false, lost: false };
    this.local.set(rec.id, local);
    return local;
  }

  /**
   * One heartbeat: extends the claim's lease and keeps the queue message held. A claim that is no longer
   * this worker's (it stalled past its lease and another took over) stops the run without writing.
   */
  private beat(id: string, item: WorkItem<QueueMessage>, local: LocalRun): void {
    if (this.closing.signal.aborted) return;
    item.working();
    let r: ReturnType<JobStore['mutate']>;
    try {
      r = this.jobs.mutate(id, (cur) => {
        if (cur.worker !== this.workerId || cur.state !== 'running') return undefined;
        cur.leaseUntil = Date.now() + this.leaseMs;
        return [];
      });
    } catch (err) {
      // The store is closing with the process: the lease simply runs out.
      this.opts.log.warn('heartbeat failed', { jobId: id, error: String(err) });
      return;
    }
    if (!r.changed) {
      local.lost = true;
      void local.run.stop();
      return;
    }
    // Control requested through another process sharing the store.
    this.control(local, r.rec!.pendingAction);
  }

  /** Carries out a pause or cancel asked of a job running here (each once; a cancel wins over a pause). */
  private control(local: LocalRun, action: JobRecord['pendingAction']): void {
    if (action === 'cancel' && !local.cancelling) {
      local.cancelling = true;
      local.run.cancel();
    } else if (action === 'pause' && !local.pausing) {
      local.pausing = true;
      local.run.pause();
    }
  }

  /** Stores and publishes the worker's messages, batch by batch, while the claim is still this worker's. */
  private async relay(id: string, local: LocalRun): Promise<void> {
    for await (const batch of local.run.batches()) {
      const r = this.jobs.mutate(id, (cur) => {
        if (cur.worker !== this.workerId || cur.state !== 'running') return undefined;
        return this.apply(cur, batch);
      });
      if (!r.changed) {
        local.lost = true;
        await local.run.stop();
        return;
      }
      this.emit(id, r.points);
    }
  }

  /** The process is shutting down under a job still running: it is left to redelivery and the reaper. */
  private shuttingDownWith(id: string, local: LocalRun): boolean {
    return !local.lost && this.closing.signal.aborted && this.jobs.get(id)?.state === 'running';
  }

  /** Applies a batch of worker messages to the record; returns the events to store. */
  private apply(rec: JobRecord, batch: WorkerMessage[]): NewPoint[] {
    const out: NewPoint[] = [];
    for (const m of batch) {
      switch (m.type) {
        case 'ready': {
          rec.vocabSize = m.vocabSize;
          rec.parameters = m.parameters;
          const refused = m.rejected.map((r) => `refused ${r.dir}: ${r.reason}`).join('; ');
          if (m.resumedFrom > 0 || refused) {
            const from =
              m.resumedFrom > 0
                ? `continuing from the checkpoint at step ${m.resumedFrom}`
                : 'starting from scratch';
            out.push({
              kind: 'state',
              step: m.resumedFrom,
              message: refused ? `${from} (${refused})` : from,
            });
          }
          break;
        }
        case 'step':
          // Steps a resumed run recomputes (after its checkpoint, up to what was already stored) are not re-emitted.
          if (m.step <= rec.lastStepPoint) break;
          rec.lastStepPoint = m.step;
          rec.step = m.step;
          rec.loss = m.loss;
          out.push({
            kind: 'step',
            step: m.step,
            loss: m.loss,
            lr: m.lr,
            gradNorm: m.gradNorm,
            tokensPerSecond: m.tokensPerSecond,
            elapsed: m.elapsed,
            ...(m.preference ? { preference: m.preference } : {}),
          });
          break;
        case 'eval':
          if (m.step <= rec.lastEvalPoint) break;
          rec.lastEvalPoint = m.step;
          rec.valLoss = m.valLoss;
          out.push({
            kind: 'eval',
            step: m.step,
            valLoss: m.valLoss,
            trainLoss: m.trainLoss,
            perplexity: m.perplexity,
            sample: m.sample,
            elapsed: m.elapsed,
            ...(m.preference ? { preference: m.preference } : {}),
            ...(m.induction ? { induction: m.induction } : {}),
          });
          break;
        case 'checkpoint':
          rec.checkpoints = m.kept;
          rec.checkpointInfo = m.entries;
          break;
        case 'paused':
          rec.state = 'paused';
          rec.worker = '';
          rec.pendingAction = '';
          out.push({
            kind: 'state',
            step: m.step,
            state: 'paused',
            message: `paused at step ${m.step} (checkpoint written)`,
          });
          break;
        case 'cancelled':
          rec.state = 'cancelled';
          rec.worker = '';
          rec.pendingAction = '';
          out.push({
            kind: 'state',
            step: m.step,
            state: 'cancelled',
            message: `cancelled at step ${m.step}`,
          });
          break;
        case 'done':
          rec.state = 'completed';
          rec.worker = '';
          rec.pendingAction = '';
          out.push({ kind: 'state', step: m.step, state: 'completed', message: 'completed' });
          break;
        case 'error':
          rec.state = 'failed';
          rec.worker = '';
          rec.pendingAction = '';
          rec.error = m.message;
          out.push({ kind: 'state', step: rec.step, state: 'failed', message: m.message });
          break;
      }
    }
    return out;
  }

  /** Running jobs whose worker stopped heart-beating go back to the queue (they continue from their checkpoint). */
  private async reap(): Promise<void> {
    if (this.closing.signal.aborted) return;
    const now = Date.now();
    for (const j of this.jobs.list()) {
      if (j.state !== 'running' || j.leaseUntil >= now || this.local.has(j.id)) continue;
      const r = this.jobs.mutate(j.id, (rec) => {
        if (rec.state !== 'running' || rec.leaseUntil >= Date.now()) return undefined;
        const gone = rec.worker;
        rec.state = 'queued';
        rec.worker = '';
        return [
          {
            kind: 'state',
            step: rec.step,
            message: `worker ${gone} stopped (no heartbeat for ${Math.round((Date.now() - rec.leaseUntil + this.leaseMs) / 1000)} s); queued again to continue from its last checkpoint`,
          },
        ];
      });
      if (!r.changed) continue;
      this.emit(j.id, r.points);
      this.opts.log.warn('re-queued a job whose worker stopped', { jobId: j.id });
      await this.opts.queue.push({ jobId: j.id }).catch((err) => {
        this.opts.log.error('could not re-queue a job', { jobId: j.id, error: String(err) });
      });
    }
  }
}

/**
 * The newest step a resumed run may start from: that of the newest checkpoint the record holds. The worker
 * posts a step's point, then its evaluation, then writes the checkpoint and says so; the service stores them
 * in that order. A checkpoint on disk the record does not hold may therefore be ahead of stored points: a
 * kill -9 after the step-300 point was stored but before its evaluation was lost the evaluation when the run
 * resumed from the checkpoint at 300 (the limit was the last stored step point). Records from before
 * checkpointInfo keep that older limit.
 */
export function resumeLimit(rec: Pick<JobRecord, 'checkpointInfo' | 'lastStepPoint'>): number {
  if (!rec.checkpointInfo) return rec.lastStepPoint;
  return rec.checkpointInfo.reduce((newest, c) => Math.max(newest, c.step), 0);
}
