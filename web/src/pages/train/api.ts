// The Train page's calls beyond the shared client (../../api.ts): the presets with their shapes, and the
// estimate with what the shared type does not list yet (total time, the machine, warnings, the vocabulary the
// job would get). Shapes follow gateway/src/routes/train.ts.
import { getJSON, postJSON, type RequestOptions, type TrainEstimate } from '../../api.ts';
import type { TrainConfigWithRetention } from './types.ts';

/** A model preset: the shape a job gets before overrides. */
export interface ModelPreset {
  name: string;
  family: 'gpt2' | 'llama';
  nLayer: number;
  nHead: number;
  nKvHead: number;
  nEmbd: number;
  ffnHidden: number;
  context: number;
  vocabSize: number;
  bias: boolean;
  tieEmbeddings: boolean;
  dropout: number;
  parameters: number;
}

/** A reason to confirm before starting: more memory than the machine has, or more than a day of compute. */
export interface RunWarning {
  kind: 'memory' | 'time';
  message: string;
  /** The request field that changes it most, e.g. "config.iters". */
  field: string;
}

export interface FullEstimate extends TrainEstimate {
  /** secondsPerStep × iters; 0 without iters. */
  totalSeconds: number;
  vocabSize: number;
  /** "preset" while the job's vocabulary depends on data not chosen yet. */
  vocabSource: 'request' | 'data' | 'tokenizer' | 'preset';
  machine: { memoryBytes: number; availableMemoryBytes: number; cpus: number };
  warnings: RunWarning[];
}

/** The job's config without retention (which does not change the model), plus what sizes its vocabulary. */
export interface EstimateRequest extends Omit<TrainConfigWithRetention, 'iters' | 'keepLast' | 'keepBest'> {
  iters?: number;
  tokenizer?: string;
  dataPath?: string;
  datasetId?: string;
  datasetVersion?: number;
}

export const trainPageApi = {
  presets: (opts?: RequestOptions) => getJSON<{ presets: ModelPreset[] }>('/api/train/presets', opts),
  estimate: (body: EstimateRequest, opts?: RequestOptions) =>
    postJSON<FullEstimate>('/api/train/estimate', body, opts),
};
