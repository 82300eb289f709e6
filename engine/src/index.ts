// @lab/engine: build GPT graphs in TypeScript, differentiate them, and train/run them on ONNX Runtime.

export {
  type Checkpoint,
  configFromHf,
  hfConfig,
  loadCheckpoint,
  saveCheckpoint,
  type TrainerState,
} from './checkpoint/checkpoint.ts';
export {
  type HfArchitecture,
  type HfConfigOptions,
  type HfModelConfig,
  modelConfigFromHf,
  SUPPORTED_ARCHITECTURES,
} from './checkpoint/hf-config.ts';
export {
  addedTokenText,
  chatTemplateOf,
  inspectModelFolder,
  loadModelFolder,
  type ModelFolder,
  type ModelFolderInfo,
  type ModelFolderOptions,
  type SpecialTokens,
} from './checkpoint/hf-folder.ts';
export {
  bf16ToF32,
  DTYPE_BYTES,
  type FloatDtype,
  f16ToF32,
  type NamedTensor,
  readSafetensors,
  readSafetensorsHeader,
  readTensorsInto,
  type SafetensorsDtype,
  type SafetensorsHeader,
  type TensorInfo,
  type TensorRead,
  writeSafetensors,
} from './checkpoint/safetensors.ts';
export {
  countParameters,
  DAY_SECONDS,
  type Estimate,
  estimateFinetune,
  estimateModel,
  type FinetuneAdapter,
  type FinetuneEstimate,
  type ParameterCounts,
  type RunWarning,
  runWarnings,
} from './estimate.ts';
export { DPO, dpoLoss, dpoMetrics, type PairFigures, pairMetrics, sequenceLogProbs } from './finetune/dpo.ts';
export {
  compareLogits,
  type FidelityReport,
  fidelityWindows,
  mergeFidelity,
  onTheFlyLogits,
} from './finetune/fidelity.ts';
export { FROZEN, type FrozenWeights, frozenFp32, frozenNf4, isNf4Frozen } from './finetune/frozen.ts';
export {
  addLoraInto,
  LORA_DROPOUT_MASK,
  type LoraConfig,
  LoraError,
  type LoraModule,
  loraA,
  loraB,
  loraLayout,
  loraModules,
  loraParams,
  loraScale,
  loraTargetsOf,
  mergeLora,
} from './finetune/lora.ts';
export {
  concatAdapters,
  disjointMerge,
  linearAdapterMerge,
  loraDelta,
  MERGE_METHODS,
  type MergeMethod,
  type MergeOptions,
  magnitudePrune,
  majoritySignMask,
  mergeAdapters,
  mergeTasks,
  randomPrune,
  type TaskMergeOptions,
  type WeightedAdapter,
} from './finetune/merge.ts';
export {
  ADAPTER_CONFIG,
  ADAPTER_WEIGHTS,
  PEFT_PREFIX,
  type PeftAdapter,
  peftConfig,
  readPeftAdapter,
  writePeftAdapter,
} from './finetune/peft.ts';
export { bradleyTerry, LAST_INDEX, rowScores, SCORE, SCORES, scoreSpec } from './finetune/reward.ts';
export { gradients } from './graph/autodiff.ts';
export {
  type GradCheckInput,
  type GradCheckOptions,
  type GradCheckResult,
  gradCheck,
} from './graph/gradcheck.ts';
export {
  type Dim,
  type DType,
  Graph,
  GraphError,
  type GraphNode,
  type Shape,
  type Value,
} from './graph/graph.ts';
export * as ops from './graph/ops.ts';
export { type BandwidthOptions, measureReadBandwidth, weightBytesPerToken } from './infer/bandwidth.ts';
export { buildInferenceGraph, type ExportOptions } from './infer/export.ts';
export { Decoder, type SampleOptions, type StepOutput, sampleToken } from './infer/generate.ts';
export { type KvCache, kvBytesPerToken } from './infer/kv-cache.ts';
export { loadInferenceModel } from './infer/load.ts';
export {
  InferenceModel,
  type InferenceOptions,
  type ModelMemory,
  type RunOptions,
  type RunResult,
} from './infer/model.ts';
export { removeQuantCache } from './infer/quant-cache.ts';
export {
  checkDecodeFormat,
  DECODE_FORMATS,
  type DecodeFormat,
  type QuantizedWeights,
  quantizeForDecoding,
} from './infer/quantized.ts';
export {
  type AblationMode,
  type AblationResult,
  ablate,
  type Component,
  checkComponents,
} from './inspect/ablate.ts';
export { activationTensors, safetensorsBytes, traceSafetensors } from './inspect/export.ts';
export {
  checkPatch,
  type PatchOptions,
  type PatchResult,
  patchSweep,
  restored,
} from './inspect/patch.ts';
export {
  type HeadScores,
  PATTERNS,
  type Pattern,
  repeatedRandomTokens,
  scoreHead,
  scoreLayer,
} from './inspect/patterns.ts';
export {
  accuracy,
  collectResiduals,
  fitLogistic,
  type LogisticModel,
  type LogisticOptions,
  type Pooling,
  type ProbeOptions,
  type ProbeResult,
  pooledResiduals,
  predictLogistic,
  probeStreams,
  splitRows,
} from './inspect/probe.ts';
export {
  type LayerNorms,
  type LensPosition,
  lensAt,
  lossPerToken,
  rowNorms,
  traceNorms,
  traceScores,
} from './inspect/summary.ts';
export {
  type Intervention,
  type RawTrace,
  type ResidPatch,
  TraceModel,
  type TraceRunOptions,
} from './inspect/trace.ts';
export { buildTraceGraph, TRACE, type TraceGraph } from './inspect/trace-graph.ts';
export {
  type Activation,
  type Family,
  gpt2Config,
  headDim,
  llamaConfig,
  type ModelConfig,
  type NormKind,
  type PositionKind,
  PRESETS,
  type PresetName,
  preset,
} from './models/config.ts';
export { forward, PARAM, paramInputs, paramLayout, paramLookup, paramSpecs } from './models/model.ts';
export { BUCKET_ELEMENTS, type ParamBucket, ParamLayout, type ParamSpec } from './models/params.ts';
export { ModelProto as OnnxModelProto } from './onnx/gen/onnx.ts';
export {
  BITS as QUANT_BITS,
  blockScales,
  DEFAULT_BLOCK as QUANT_DEFAULT_BLOCK,
  DOUBLE_QUANT_BLOCK,
  type DoubleQuant,
  dequantize as dequantizeCpu,
  dequantizeScales,
  NF4_VALUES,
  QUANT_FORMATS,
  QuantError,
  type QuantFormat,
  type QuantizedTensor,
  type QuantizeOptions,
  quantize,
  quantizedBytes,
  quantizeScales,
} from './quant/formats.ts';
export {
  dequantize,
  type QuantFeed,
  type QuantInputs,
  quantizedFeeds,
  quantizedInputs,
} from './quant/graph.ts';
export { Rng, type RngState } from './rng.ts';
export { type AdaptiveOptions, AdaptiveSession } from './runtime/adaptive.ts';
export {
  createSession,
  DEFAULT_OPT_LEVEL,
  type ExecutionProvider,
  type OptLevel,
  ort,
  type Session,
  type SessionOptions,
} from './runtime/session.ts';
export { BatchSampler } from './train/data.ts';
export { bucketViews, DropoutMasks, type Feeds, StateSet, tensorViews } from './train/feeds.ts';
export {
  buildEvalGraph,
  buildLogpGraph,
  buildScoreGraph,
  buildStepGraph,
  DEFAULT_OPTIM,
  type FinetuneParts,
  modelCtx,
  type Objective,
  type OptimConfig,
  STATE,
} from './train/graphs.ts';
export {
  evaluateInduction,
  headInductionScores,
  INDUCTION_PROBES,
  type InductionMetrics,
} from './train/induction-eval.ts';
export { type ExecutionPlan, type PlanOptions, planExecution } from './train/plan.ts';
export {
  estimateLoss,
  type PretrainEvent,
  type PretrainOptions,
  type PretrainResult,
  pretrain,
} from './train/pretrain.ts';
export {
  halfTargets,
  RepeatedTokensSampler,
  type RepeatedTokensSpec,
} from './train/repeated-tokens.ts';
export { cosineLr, type LrSchedule } from './train/schedule.ts';
export { type Batch, type StepResult, Trainer, type TrainerOptions } from './train/trainer.ts';
