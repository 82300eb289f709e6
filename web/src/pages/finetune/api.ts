// The Fine-tune page's request and lineage shapes: a training job with a `finetune` object
// (gateway/src/routes/train.ts, FinetuneConfig), and the settings the job record keeps in request.finetune.
import {
  type BodyOf,
  getJSON,
  postJSON,
  type RequestOptions,
  type ResponseOf,
  type Routes,
  type SubmitTrainJob,
  type TrainConfig,
  trainApi,
} from '../../api.ts';
import type { TrainJobDetail } from '../train/types.ts';

type Train = Routes['train'];
/** What POST /api/train/jobs takes in `finetune`. */
export type FinetuneConfig = NonNullable<SubmitTrainJob['finetune']>;
export type FinetuneMethod = NonNullable<FinetuneConfig['method']>;
export type AdapterKind = NonNullable<FinetuneConfig['adapter']>;

/** The training config fields a fine-tune sends (the model's shape comes from the base). */
export type FinetuneTrainConfig = TrainConfig;

/** A training job with `finetune` set; the base model brings its own tokenizer. */
export type SubmitFinetuneJob = Omit<SubmitTrainJob, 'tokenizer'> & { finetune: FinetuneConfig };

/** What POST /api/train/finetune/preview answers: examples rendered as they would train. */
export type FinetunePreview = ResponseOf<Train['finetunePreview'], 200>;
export type PreviewSequence = FinetunePreview['examples'][number]['sequence'];
/** One token of a rendered example: `loss` marks an answer token, `truncated` one past the context. */
export type PreviewToken = PreviewSequence['tokens'][number];
export type EosCheck = FinetunePreview['eos'];
export type PreviewRequest = BodyOf<Train['finetunePreview']>;

/** What POST /api/train/finetune/estimate answers. */
export type FinetuneEstimate = ResponseOf<Train['finetuneEstimate'], 200>;
export type EstimateRequest = BodyOf<Train['finetuneEstimate']>;

export const finetuneApi = {
  /** The same endpoint as pre-training: a fine-tune is a training job with `finetune` set. */
  submit: (body: SubmitFinetuneJob) => trainApi.submit(body),
  preview: (body: PreviewRequest, opts?: RequestOptions) =>
    postJSON<FinetunePreview>('/api/train/finetune/preview', body, { timeoutMs: 60_000, ...opts }),
  estimate: (body: EstimateRequest, opts?: RequestOptions) =>
    postJSON<FinetuneEstimate>('/api/train/finetune/estimate', body, opts),
  /** The general text a forgetting check scores (svc-eval reads it at `textPath`). */
  generalText: (opts?: RequestOptions) => getJSON<GeneralText>('/api/eval/general-text', opts),
};

/** What GET /api/eval/general-text answers: WikiText-2's raw test split in the shared datasets. */
export type GeneralText = ResponseOf<Routes['eval']['generalText'], 200>;

/** A list of positive numbers typed as "4, 8 16" (commas or spaces), or a sentence saying what is wrong. */
export function parseNumberList(text: string, what: string, whole: boolean): number[] | string {
  const parts = text.split(/[\s,;]+/).filter(Boolean);
  if (!parts.length) return `${what}: give at least one value`;
  const out: number[] = [];
  for (const p of parts) {
    const v = Number(p);
    if (!Number.isFinite(v) || v <= 0 || (whole && !Number.isInteger(v)))
      return `${what}: “${p}” is not a positive ${whole ? 'whole number' : 'number'}`;
    if (!out.includes(v)) out.push(v);
  }
  return out;
}

/** A learning rate as a job name writes it: 0.003 → "3e-3", 0.00025 → "2.5e-4". */
export const lrLabel = (lr: number) => lr.toExponential().replace('e+', 'e');

/** A sweep job's name: `<name>-r8-lr3e-3`. */
export const sweepJobName = (name: string, rank: number, lr: number) => `${name}-r${rank}-lr${lrLabel(lr)}`;

/** Modules LoRA can adapt, per family (PEFT's target_modules names), and the ones checked by default. */
export const TARGETS: Record<'gpt2' | 'llama', { all: string[]; defaults: string[]; about: string }> = {
  gpt2: {
    all: ['c_attn', 'c_proj', 'c_fc'],
    defaults: ['c_attn'],
    about: 'c_attn: the fused query/key/value projection; c_proj: attention and MLP outputs; c_fc: MLP input',
  },
  llama: {
    all: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
    defaults: ['q_proj', 'v_proj'],
    about: 'q/k/v/o_proj: attention; gate/up/down_proj: the SwiGLU MLP',
  },
};

/** GPT-2 has its own module names; Llama and its relatives (qwen2, mistral, …) share Llama's. */
export const targetFamily = (family: string): 'gpt2' | 'llama' => (family === 'gpt2' ? 'gpt2' : 'llama');

/** Where a fine-tune came from, as the job record keeps it. */
export interface Lineage {
  baseModel: string;
  method: FinetuneMethod;
  adapter: AdapterKind;
  rank?: number;
  alpha?: number;
  dropout?: number;
  targets: string[];
  beta?: number;
  data: string;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && v > 0 ? v : undefined);

/** The lineage of a fine-tuning job, or undefined for a pre-training job. */
export function lineageOf(job: Pick<TrainJobDetail, 'request'>): Lineage | undefined {
  const f = job.request.finetune;
  if (!f || typeof f !== 'object') return undefined;
  const r = f as Record<string, unknown>;
  const adapter: AdapterKind = r.adapter === 'full' ? 'full' : 'lora';
  const method: FinetuneMethod = r.method === 'dpo' ? 'dpo' : 'sft';
  const datasetId = typeof job.request.datasetId === 'string' ? job.request.datasetId : '';
  const data = datasetId
    ? `${datasetId} v${Number(job.request.datasetVersion ?? 0)}`
    : typeof job.request.dataPath === 'string'
      ? job.request.dataPath
      : '';
  const lora = adapter === 'lora';
  return {
    baseModel: typeof r.baseModel === 'string' ? r.baseModel : '',
    method,
    adapter,
    rank: lora ? num(r.loraRank) : undefined,
    alpha: lora ? num(r.loraAlpha) : undefined,
    dropout: lora && typeof r.loraDropout === 'number' ? r.loraDropout : undefined,
    targets: lora && Array.isArray(r.loraTargets) ? r.loraTargets.map(String) : [],
    beta: method === 'dpo' ? num(r.beta) : undefined,
    data,
  };
}

/** Form input (its name) that shows an error about a request field (its path in the gateway's answer). */
export function inputFor(field: string): string | undefined {
  const direct: Record<string, string> = {
    name: 'name',
    dataPath: 'dataPath',
    datasetId: 'dataset',
    datasetVersion: 'dataset',
    'finetune.baseModel': 'baseModel',
    'finetune.method': 'method',
    'finetune.adapter': 'adapter',
    'finetune.loraRank': 'loraRank',
    'finetune.loraAlpha': 'loraAlpha',
    'finetune.loraDropout': 'loraDropout',
    'finetune.loraTargets': 'loraTargets',
    'finetune.beta': 'beta',
    'config.iters': 'iters',
    'config.batchSize': 'batchSize',
    'config.learningRate': 'learningRate',
    'config.context': 'context',
    'config.evalInterval': 'evalInterval',
  };
  return direct[field] ?? (/^finetune\.loraTargets\./.test(field) ? 'loraTargets' : undefined);
}
