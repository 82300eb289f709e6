import { LabError } from '@lab/common';
import { estimateModel, preset } from '@lab/engine';
import type { EstimateModelRequest, ModelEstimate, TrainConfig } from '@lab/proto/train';
import { modelOf } from './validate.ts';

/**
 * Training throughput of this lab's engine on the 2-core development CPU: `npm run bench:train` measured
 * 70 GFLOP/s on nanogpt-cpu (52.7 ms for 3.7 GFLOP per step) and 90 GFLOP/s on nanogpt-shakespeare.
 * Small models run below the larger ones' rate; the lower figure keeps the estimate honest for them.
 */
const MEASURED_FLOPS = 70e9;

/** What the Train page shows before a run: parameters, FLOPs, memory and time per step of a config. */
export function estimate(req: EstimateModelRequest): ModelEstimate {
  const c: TrainConfig = req.config ?? ({} as TrainConfig);
  const { presetName, model, context } = modelOf(c);
  const batch = c.batchSize || 12;
  const accumulate = c.gradAccum || 1;
  if (batch > 1024)
    throw new LabError('INVALID_ARGUMENT', 'config.batchSize: at most 1024', 'config.batchSize');
  const cfg = preset(presetName, {
    ...model,
    blockSize: context,
    ...(req.vocabSize ? { vocabSize: req.vocabSize } : {}),
  });
  const e = estimateModel(cfg, batch, context);
  const tokensPerStep = batch * context * accumulate;
  return {
    parameters: e.params,
    forwardFlopsPerToken: e.flopsPerToken.forward,
    backwardFlopsPerToken: e.flopsPerToken.backward,
    weightsBytes: e.memory.weights,
    gradientsBytes: e.memory.gradients,
    optimizerBytes: e.memory.optimizer,
    activationsBytes: e.memory.activations,
    secondsPerStep: (e.flopsPerToken.total * tokensPerStep) / MEASURED_FLOPS,
  };
}
