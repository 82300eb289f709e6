import { availableParallelism, freemem, totalmem } from 'node:os';
import { countParameters, estimateModel, PRESETS, preset, runWarnings } from '@lab/engine';
import type {
  EstimateModelRequest,
  MachineInfo,
  ModelEstimate,
  ModelPreset,
  TrainConfig,
} from '@lab/proto/train';
import { invalid, num } from './field-error.ts';
import { jobModelConfig, modelOf } from './validate.ts';
import type { JobVocab } from './vocab.ts';

/**
 * Training throughput of this lab's engine on the 2-core development CPU: `npm run bench:train` measured
 * 70 GFLOP/s on nanogpt-cpu (52.7 ms for 3.7 GFLOP per step) and 90 GFLOP/s on nanogpt-shakespeare.
 * Small models run below the larger ones' rate; the lower figure keeps the estimate honest for them.
 */
export const MEASURED_FLOPS = 70e9;

/**
 * The memory a job on this machine can use: the RAM, or the cgroup limit when a container has a lower one
 * (compose gives svc-train a memory limit; a run past it is killed, not swapped).
 */
export function machineInfo(): MachineInfo {
  const ram = totalmem();
  const limit = process.constrainedMemory?.() ?? 0;
  const memoryBytes = limit > 0 && limit < ram ? limit : ram;
  return {
    memoryBytes,
    availableMemoryBytes: Math.min(freemem(), memoryBytes),
    cpus: availableParallelism(),
  };
}

/**
 * What the Train page shows before a run: parameters, FLOPs, memory and time of a config, with the model
 * the job would train (`vocab` as the job would resolve it, see vocab.ts) and warnings against `machine`.
 */
export function estimate(
  req: EstimateModelRequest,
  vocab: JobVocab = req.vocabSize ? { vocabSize: req.vocabSize, source: 'request' } : { source: 'preset' },
  machine: MachineInfo = machineInfo(),
): ModelEstimate {
  const c: TrainConfig = req.config ?? ({} as TrainConfig);
  const { presetName, model, context } = modelOf(c);
  const batch = c.batchSize || 12;
  const accumulate = c.gradAccum || 1;
  if (batch > 1024) throw invalid('config.batchSize', `must be at most 1,024 (got ${num(batch)})`);
  const cfg = jobModelConfig(presetName, model, context, vocab.vocabSize);
  const e = estimateModel(cfg, batch, context);
  const tokensPerStep = batch * context * accumulate;
  const secondsPerStep = (e.flopsPerToken.total * tokensPerStep) / MEASURED_FLOPS;
  const steps = c.iters ?? 0;
  return {
    parameters: e.params,
    forwardFlopsPerToken: e.flopsPerToken.forward,
    backwardFlopsPerToken: e.flopsPerToken.backward,
    weightsBytes: e.memory.weights,
    gradientsBytes: e.memory.gradients,
    optimizerBytes: e.memory.optimizer,
    activationsBytes: e.memory.activations,
    secondsPerStep,
    vocabSize: cfg.vocabSize,
    vocabSource: vocab.vocabSize ? vocab.source : 'preset',
    modelJson: JSON.stringify(cfg),
    totalSeconds: secondsPerStep * steps,
    machine,
    warnings: runWarnings({ memory: e.memory, secondsPerStep, steps }, machine.memoryBytes),
  };
}

/** The presets with the shape a job gets before overrides. */
export function listPresets(): ModelPreset[] {
  return Object.keys(PRESETS).map((name) => {
    const p = preset(name);
    return {
      name,
      family: p.family,
      nLayer: p.nLayer,
      nHead: p.nHead,
      nKvHead: p.nKvHead,
      nEmbd: p.nEmbd,
      ffnHidden: p.ffnHidden,
      context: p.blockSize,
      vocabSize: p.vocabSize,
      bias: p.bias,
      tieEmbeddings: p.tieEmbeddings,
      dropout: p.dropout,
      parameters: countParameters(p).total,
    };
  });
}
