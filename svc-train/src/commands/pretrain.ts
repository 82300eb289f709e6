// `lab-train pretrain`: pre-train a GPT on a text file with a char-level tokenizer, printing logs like
// nanoGPT's train.py. Defaults are nanoGPT's train_shakespeare_char with its README CPU overrides.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  DEFAULT_OPTIM,
  type ExecutionProvider,
  estimateModel,
  type ModelConfig,
  type OptLevel,
  PRESETS,
  preset,
  pretrain as runPretraining,
} from '@lab/engine';
import { hfTokenizerFiles, ONNX_DIR, writeOnnxModel } from '../jobs/hf-model.ts';
import { CharCodec } from './char-codec.ts';
import { type FlagSpec, int, num, parseFlags, str, UsageError } from './flags.ts';

const HELP = `usage: lab-train pretrain --data FILE --out DIR [options]

Pre-train a GPT from scratch on ONNX Runtime (char-level tokenizer). Logs like nanoGPT:
'iter N: loss X, time Yms' per log interval, 'step N: train loss X, val loss Y' per evaluation,
and a last line with val_loss=<number>. Checkpoints (safetensors + config.json, HF names) go to DIR,
which at the end is a Hugging Face model folder that transformers.js loads (onnx/model.onnx, tokenizer).

data and model
  --data FILE            training text (required)
  --tokenizer char       tokenizer (only 'char': sorted distinct characters; DIR/tokenizer.json, HF format)
  --out DIR              checkpoint directory (required)
  --preset NAME          ${Object.keys(PRESETS).join(' | ')} (default nanogpt-cpu)
  --context N            context length / block size (default 64)
  --layers N --heads N --kv-heads N --width N --ffn N   override the preset's shape
  --dropout P            dropout (default 0)
  --bias                 biases in linear layers and LayerNorm (default off)
  --val-fraction F       held-out fraction at the end of the text (default 0.1)

optimisation
  --iters N              training iterations (default 2000)
  --batch N              sequences per micro-batch (default 12)
  --accumulate N         micro-batches per step (gradient accumulation, default 1)
  --lr X                 peak learning rate (default 1e-3)
  --min-lr X             final learning rate (default 1e-4)
  --warmup N             linear warm-up iterations (default 100)
  --lr-decay-iters N     cosine decay length (default: --iters)
  --beta1 X --beta2 X    AdamW betas (default 0.9, 0.99)
  --weight-decay X       decoupled weight decay on matrices (default 0.1)
  --clip X               global gradient-norm clip, 0 = off (default 1.0)
  --seed N               init, data and dropout seed (default 1337)

logging and runtime
  --eval-interval N      evaluate every N iterations (default 250)
  --eval-iters N         batches per split per evaluation (default 20)
  --log-interval N       print a training line every N iterations (default 10)
  --resume               continue from DIR's checkpoint
  --ep cpu|webgpu|cuda   execution provider (default $LAB_EP or cpu)
  --threads N            ORT intra-op threads (default: all cores)
  --opt-level L          disabled | basic | extended | all (default extended)
  -h, --help             this text
`;

const SPEC: FlagSpec = {
  data: { type: 'string' },
  tokenizer: { type: 'string', default: 'char' },
  out: { type: 'string' },
  preset: { type: 'string', default: 'nanogpt-cpu' },
  context: { type: 'string' },
  layers: { type: 'string' },
  heads: { type: 'string' },
  'kv-heads': { type: 'string' },
  width: { type: 'string' },
  ffn: { type: 'string' },
  dropout: { type: 'string' },
  bias: { type: 'boolean' },
  'val-fraction': { type: 'string' },
  iters: { type: 'string' },
  batch: { type: 'string' },
  accumulate: { type: 'string' },
  lr: { type: 'string' },
  'min-lr': { type: 'string' },
  warmup: { type: 'string' },
  'lr-decay-iters': { type: 'string' },
  beta1: { type: 'string' },
  beta2: { type: 'string' },
  'weight-decay': { type: 'string' },
  clip: { type: 'string' },
  seed: { type: 'string' },
  'eval-interval': { type: 'string' },
  'eval-iters': { type: 'string' },
  'log-interval': { type: 'string' },
  resume: { type: 'boolean' },
  ep: { type: 'string' },
  threads: { type: 'string' },
  'opt-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

const CMD = 'pretrain';

export async function pretrain(argv: string[]): Promise<void> {
  const v = parseFlags(CMD, argv, SPEC);
  if (v.help) {
    process.stdout.write(HELP);
    return;
  }
  const data = str(v, 'data');
  const out = str(v, 'out');
  if (!data) throw new UsageError(`${CMD}: --data FILE is required (see ${CMD} --help)`);
  if (!out) throw new UsageError(`${CMD}: --out DIR is required (see ${CMD} --help)`);
  if (v.tokenizer !== 'char')
    throw new UsageError(`${CMD}: --tokenizer '${v.tokenizer}' is not supported (only 'char')`);
  if (!existsSync(data)) throw new UsageError(`${CMD}: --data file not found: ${data}`);
  const presetName = str(v, 'preset') ?? 'nanogpt-cpu';
  if (!(presetName in PRESETS)) {
    throw new UsageError(
      `${CMD}: --preset '${presetName}' is unknown (known: ${Object.keys(PRESETS).join(', ')})`,
    );
  }
  const level = str(v, 'opt-level') ?? 'extended';
  if (!['disabled', 'basic', 'extended', 'all'].includes(level)) {
    throw new UsageError(`${CMD}: --opt-level must be disabled, basic, extended or all, got '${level}'`);
  }
  const ep = str(v, 'ep');
  if (ep && !['cpu', 'webgpu', 'cuda'].includes(ep))
    throw new UsageError(`${CMD}: --ep must be cpu, webgpu or cuda, got '${ep}'`);

  const text = readFileSync(data, 'utf8');
  mkdirSync(out, { recursive: true });
  const tokPath = join(out, 'tokenizer.json');
  const codec = v.resume && existsSync(tokPath) ? CharCodec.load(tokPath) : CharCodec.fromText(text);
  const tokens = codec.encode(text);

  const base = preset(presetName);
  const isNano = presetName.startsWith('nanogpt');
  const over: Partial<ModelConfig> = {
    vocabSize: codec.vocabSize,
    blockSize: int(CMD, v, 'context', isNano ? base.blockSize : 64, 1),
    dropout: num(CMD, v, 'dropout', isNano ? base.dropout : 0),
  };
  if (v.bias !== undefined) over.bias = Boolean(v.bias);
  if (v.layers !== undefined) over.nLayer = int(CMD, v, 'layers', base.nLayer, 1);
  if (v.heads !== undefined) over.nHead = int(CMD, v, 'heads', base.nHead, 1);
  over.nKvHead = int(CMD, v, 'kv-heads', v.heads !== undefined ? (over.nHead as number) : base.nKvHead, 1);
  if (v.width !== undefined) over.nEmbd = int(CMD, v, 'width', base.nEmbd, 1);
  if (v.ffn !== undefined) over.ffnHidden = int(CMD, v, 'ffn', base.ffnHidden, 1);
  else if (v.width !== undefined) over.ffnHidden = 4 * (over.nEmbd as number);
  const cfg = preset(presetName, over);
  // The Hugging Face files: the tokenizer's now (tokenizer.json rewritten in Hugging Face's format on
  // resume too); the ONNX graph once training is over, as the engine's loop saves the weights without a
  // hook here. A graph of earlier weights must not sit beside the new ones meanwhile.
  for (const [name, content] of Object.entries(hfTokenizerFiles(codec.toTokenizer(), cfg.blockSize)))
    writeAtomic(join(out, name), content);
  rmSync(join(out, ONNX_DIR), { recursive: true, force: true });

  const iters = int(CMD, v, 'iters', 2000, 0);
  const batch = int(CMD, v, 'batch', 12, 1);
  const accumulate = int(CMD, v, 'accumulate', 1, 1);
  const seq = cfg.blockSize;
  const est = estimateModel(cfg, batch, seq);
  console.log(
    `model: ${presetName} ${cfg.nLayer} layers, ${cfg.nHead} heads, ${cfg.nEmbd} wide, context ${seq}, vocab ${cfg.vocabSize}: ` +
      `${(est.params.total / 1e6).toFixed(2)}M parameters`,
  );
  const result = await runPretraining(
    {
      cfg,
      tokens,
      valFraction: num(CMD, v, 'val-fraction', 0.1),
      iters,
      batch,
      seq,
      accumulate,
      schedule: {
        lr: num(CMD, v, 'lr', 1e-3),
        minLr: num(CMD, v, 'min-lr', 1e-4),
        warmup: int(CMD, v, 'warmup', 100, 0),
        decayIters: int(CMD, v, 'lr-decay-iters', iters, 1),
      },
      optim: {
        ...DEFAULT_OPTIM,
        beta1: num(CMD, v, 'beta1', DEFAULT_OPTIM.beta1),
        beta2: num(CMD, v, 'beta2', DEFAULT_OPTIM.beta2),
        weightDecay: num(CMD, v, 'weight-decay', DEFAULT_OPTIM.weightDecay),
        clip: num(CMD, v, 'clip', DEFAULT_OPTIM.clip),
      },
      evalInterval: int(CMD, v, 'eval-interval', 250, 1),
      evalIters: int(CMD, v, 'eval-iters', 20, 1),
      logInterval: int(CMD, v, 'log-interval', 10, 1),
      seed: int(CMD, v, 'seed', 1337, 0),
      out: resolve(out),
      resume: Boolean(v.resume),
      session: {
        ep: ep as ExecutionProvider | undefined,
        threads: v.threads !== undefined ? int(CMD, v, 'threads', 1, 1) : undefined,
        optLevel: level as OptLevel,
      },
      extraState: { data: resolve(data), tokenizer: 'char', preset: presetName },
    },
    (e) => {
      if (e.kind === 'iter')
        console.log(`iter ${e.iter}: loss ${e.loss.toFixed(4)}, time ${e.ms.toFixed(2)}ms`);
      else if (e.kind === 'eval')
        console.log(`step ${e.iter}: train loss ${e.train.toFixed(4)}, val loss ${e.val.toFixed(4)}`);
      else if (e.kind === 'plan')
        console.log(
          `plan: ${e.plan.runs} run${e.plan.runs > 1 ? 's' : ''} of ${e.plan.rowsPerRun} rows per step on ${e.threading}`,
        );
      else console.log(`resuming from ${out} at iter ${e.iter}`);
    },
  );
  writeOnnxModel(out, cfg, result.params);
  console.log(
    `done: iters=${result.iters} wall=${result.wallSeconds.toFixed(1)}s ms/iter=${result.msPerIter.toFixed(1)} ` +
      `tokens/s=${Math.round(result.tokensPerSecond)} train_loss=${result.trainLoss.toFixed(4)} val_loss=${result.valLoss.toFixed(4)}`,
  );
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}
