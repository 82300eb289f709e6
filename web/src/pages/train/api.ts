// The Train page's calls beyond the shared client (../../api.ts): the presets with their shapes, and the
// estimate with total time, the machine, warnings and the vocabulary the job would get. Shapes are
// gateway/src/routes/train.ts's.
import {
  getJSON,
  postJSON,
  type RequestOptions,
  type ResponseOf,
  type Routes,
  type TrainEstimate,
  type TrainEstimateRequest,
} from '../../api.ts';

type Presets = ResponseOf<Routes['train']['presets'], 200>;
/** A model preset: the shape a job gets before overrides. */
export type ModelPreset = Presets['presets'][number];

/** A reason to confirm before starting: more memory than the machine has, or more than a day of compute. */
export type RunWarning = TrainEstimate['warnings'][number];

export type FullEstimate = TrainEstimate;

/** The job's config (iters optional) plus what sizes its vocabulary: tokenizer and data. */
export type EstimateRequest = TrainEstimateRequest;

export const trainPageApi = {
  presets: (opts?: RequestOptions) => getJSON<Presets>('/api/train/presets', opts),
  estimate: (body: EstimateRequest, opts?: RequestOptions) =>
    postJSON<FullEstimate>('/api/train/estimate', body, opts),
};
