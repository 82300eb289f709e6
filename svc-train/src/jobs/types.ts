// The records svc-train keeps for a job (in its lmdb store) and what travels between the service and the
// worker thread that trains.
import type { LoraConfig, ModelConfig } from '@lab/engine';

export type JobState = 'queued' | 'running' | 'paused' | 'completed' | 'failed' | 'cancelled';
export const TERMINAL_STATES: readonly JobState[] = ['completed', 'failed', 'cancelled'];
export const isTerminal = (s: JobState): boolean => TERMINAL_STATES.includes(s);

export type LrScheduleKind = 'cosine' | 'linear' | 'constant';

/** Where the training text comes from. `dataset` is the seam for svc-data (not served yet). */
export type TextSource =
  | { kind: 'file'; path: string }
  | { kind: 'dataset'; datasetId: string; version: number };

/** Where a job's data comes from: a text, or synthetic sequences. */
export type DataSource =
  | TextSource
  /** Synthetic: random tokens repeated twice (the induction-head recipe; see RepeatedTokensSampler). */
  | { kind: 'repeated'; vocab: number; half: number; seed: number };

/** A fine-tuning job's method, base model and adapter (absent for pre-training jobs). */
export interface FinetuneSpec {
  /** "sft": imitate the answers of instruction examples; "dpo": prefer chosen over rejected answers. */
  method: 'sft' | 'dpo' | 'reward';
  /** "full": every weight trains; "lora": a low-rank adapter on a frozen base; "qlora": on an NF4 base. */
  adapter: 'full' | 'lora' | 'qlora';
  /** The base model's name in svc-infer's registry, and the folder it was resolved to at submit time. */
  baseModel: string;
  baseDir: string;
  lora?: LoraConfig;
  /** DPO's β: how far the policy may move from the reference. */
  beta: number;
  /** SFT: pack short examples into shared rows (block-diagonal attention, positions restarting). */
  packing?: boolean;
}

/** A validated job with every default filled in: all the worker needs to train (and resume). */
export interface JobSpec {
  name: string;
  source: DataSource;
  tokenizer: string;
  preset: string;
  /** Overrides of the preset (never vocabSize/blockSize: those come from the tokenizer and `context`). */
  model: Partial<ModelConfig>;
  batch: number;
  context: number;
  iters: number;
  lr: number;
  minLr: number;
  warmup: number;
  schedule: LrScheduleKind;
  accumulate: number;
  weightDecay: number;
  clip: number;
  evalInterval: number;
  checkpointInterval: number;
  /** Retention: the newest `keepLast` checkpoints are kept (absent in jobs stored before it: 2). */
  keepLast?: number;
  /** Retention: also keep the checkpoint with the best validation loss (absent in older jobs: false). */
  keepBest?: boolean;
  seed: number;
  evalIters: number;
  valFraction: number;
  /** Tokens of the sample generated at each evaluation; 0 = none. */
  sampleTokens: number;
  /** ORT intra-op threads; 0 = engine default. */
  threads: number;
  /** Set for fine-tuning jobs. */
  finetune?: FinetuneSpec;
}

export interface JobRecord {
  id: string;
  spec: JobSpec;
  state: JobState;
  step: number;
  error: string;
  /** Checkpoint directories kept, oldest first. */
  checkpoints: string[];
  /** The kept checkpoints with their step and validation loss, oldest first (absent in older records). */
  checkpointInfo?: { dir: string; step: number; valLoss?: number }[];
  createdAt: string;
  updatedAt: string;
  /** Sequence of the last stored event. */
  lastSeq: number;
  /** Highest step whose step point / eval point is stored: recomputed steps after a resume are not re-emitted. */
  lastStepPoint: number;
  lastEvalPoint: number;
  pendingAction: '' | 'pause' | 'cancel';
  /** Worker holding the job while running ('' otherwise). */
  worker: string;
  /** Until when the worker's claim holds without a heartbeat (epoch ms). */
  leaseUntil: number;
  attempts: number;
  loss: number;
  valLoss: number;
  vocabSize: number;
  parameters: number;
}

/** One event of a job's history (stored, published, streamed): a training step, an evaluation or a state change. */
export interface JobPoint {
  seq: number;
  kind: 'step' | 'eval' | 'state';
  step: number;
  state: JobState;
  time: string;
  loss?: number;
  lr?: number;
  gradNorm?: number;
  tokensPerSecond?: number;
  elapsed?: number;
  valLoss?: number;
  trainLoss?: number;
  perplexity?: number;
  sample?: string;
  message?: string;
  /** DPO: mean rewards of chosen and rejected answers, margin and preference accuracy. */
  preference?: PreferenceMetrics;
  /** Jobs on repeated random tokens: the losses on each half and the best induction head. */
  induction?: InductionPoint;
}

/** An evaluation's induction numbers (see evaluateInduction in the engine). */
export interface InductionPoint {
  firstHalfLoss: number;
  secondHalfLoss: number;
  inductionScore: number;
  bestLayer: number;
  bestHead: number;
}

export interface PreferenceMetrics {
  chosenReward: number;
  rejectedReward: number;
  margin: number;
  accuracy: number;
}

/** Messages from the worker thread. */
export type WorkerMessage =
  | {
      type: 'ready';
      vocabSize: number;
      parameters: number;
      /** Step of the checkpoint the run continues from (0 = fresh start). */
      resumedFrom: number;
      /** Checkpoints found but refused (half-written or corrupt), with the reason. */
      rejected: { dir: string; reason: string }[];
    }
  | {
      type: 'step';
      step: number;
      loss: number;
      lr: number;
      gradNorm: number;
      tokensPerSecond: number;
      elapsed: number;
      preference?: PreferenceMetrics;
    }
  | {
      type: 'eval';
      step: number;
      trainLoss: number;
      valLoss: number;
      perplexity: number;
      sample: string;
      elapsed: number;
      preference?: PreferenceMetrics;
      induction?: InductionPoint;
    }
  | {
      type: 'checkpoint';
      step: number;
      dir: string;
      kept: string[];
      /** The kept checkpoints with step and validation loss, oldest first. */
      entries: { dir: string; step: number; valLoss?: number }[];
    }
  | { type: 'paused'; step: number }
  | { type: 'cancelled'; step: number }
  | { type: 'done'; step: number }
  | { type: 'error'; message: string; field?: string };

/** Messages to the worker thread. */
export type WorkerControl = { type: 'pause' } | { type: 'cancel' };

/** What the worker thread is started with. */
export interface WorkerJob {
  jobId: string;
  spec: JobSpec;
  /** The job's directory: checkpoints/, tokenizer.json. */
  dir: string;
  home: string;
  /**
   * The newest step to resume from (manager.ts, resumeLimit: the newest checkpoint the job's record holds).
   * The worker writes checkpoints itself, ahead of the service storing its points: after a crash, resuming
   * from a checkpoint past this step could skip points in between, so such checkpoints are not used.
   */
  resumeLimit: number;
}
