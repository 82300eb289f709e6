// A fine-tuning job in the training worker thread: the base model from its folder, examples rendered
// with its chat template, and a Trainer over all its weights (full) or over a LoRA on the frozen base.
// It speaks the same messages as pre-training (steps, evaluations, checkpoints, pause and cancel), and
// its checkpoints are Hugging Face folders of the merged model, so svc-infer serves them as any
// checkpoint (`<job>@<step>`), with the adapter itself in PEFT's format under `adapter/`.
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ADAPTER_WEIGHTS,
  type Batch,
  DEFAULT_OPTIM,
  Decoder,
  frozenFp32,
  frozenNf4,
  type LoraConfig,
  loadModelFolder,
  loraLayout,
  type ModelConfig,
  mergeLora,
  pairMetrics,
  Rng,
  type RngState,
  readPeftAdapter,
  readSafetensors,
  SCORE,
  Trainer,
  writePeftAdapter,
  writeSafetensors,
} from '@lab/engine';
import { parseTokenizerJson, type Tokenizer } from '@lab/tokenizer';
import { latestValidCheckpoint, writeCheckpoint } from '../jobs/checkpoints.ts';
import { fieldError } from '../jobs/field-error.ts';
import { hfTokenizerFiles } from '../jobs/hf-model.ts';
import { sourcePath } from '../jobs/resolve-tokens.ts';
import { lrAt } from '../jobs/schedule.ts';
import type { PreferenceMetrics, WorkerJob, WorkerMessage } from '../jobs/types.ts';
import { conversationsOf, preferencesOf, readRecords } from './examples.ts';
import { type ChatFormat, packRows, type Row, tokenizeConversation, tokenizePair, toRow } from './render.ts';

/** Where a fine-tuning job's examples are: the data file, or svc-data's documents copied at submit time. */
export const EXAMPLES_FILE = 'examples.jsonl';
const ADAPTER_DIR = 'adapter';
const ADAPTER_OPTIM = 'adapter_optimizer.safetensors';

export interface Control {
  paused(): boolean;
  cancelled(): boolean;
}

/** The chat format of a model folder: its template and EOS, encoding their special tokens. */
export function chatFormatOf(
  folder: { chatTemplate?: string; specialTokens: { bos?: string; eos?: string } },
  tok: Tokenizer,
): ChatFormat {
  return {
    template: folder.chatTemplate,
    bos: folder.specialTokens.bos,
    eos: folder.specialTokens.eos,
    encode: (text) => tok.encode(text, { allowedSpecial: 'all' }),
  };
}

/** The rows of a fine-tuning job's examples, train and validation (the last valFraction, at least one). */
function examplesOf(job: WorkerJob): { records: Record<string, unknown>[]; field: string } {
  const spec = job.spec;
  const field = spec.source.kind === 'dataset' ? 'datasetId' : 'dataPath';
  const path = spec.source.kind === 'dataset' ? join(job.dir, EXAMPLES_FILE) : sourcePath(spec.source);
  return { records: readRecords(path, field), field };
}

export function sftRows(
  job: WorkerJob,
  fmt: ChatFormat,
  seq: number,
): { train: Row[]; val: Row[]; truncated: number } {
  const spec = job.spec;
  const { records, field } = examplesOf(job);
  const rows = conversationsOf(records, field).map((c) => toRow(tokenizeConversation(c, fmt), seq));
  const usable = rows.filter((r) => r.targetCount > 0);
  if (usable.length < 2)
    throw fieldError(
      field,
      `Only ${usable.length} example(s) keep an answer token within context ${seq}; fine-tuning needs at least 2.`,
    );
  const nVal = Math.max(1, Math.floor(usable.length * spec.valFraction));
  const split = { train: usable.slice(0, usable.length - nVal), val: usable.slice(usable.length - nVal) };
  const pack = spec.finetune?.packing ? (r: Row[]) => packRows(r, seq) : (r: Row[]) => r;
  return {
    train: pack(split.train),
    val: pack(split.val),
    truncated: rows.filter((r) => r.truncated > 0).length,
  };
}

/** A preference pair's two rows. */
interface PairRows {
  chosen: Row;
  rejected: Row;
}

/** The pairs of a DPO job, train and validation (the last valFraction, at least one). */
export function dpoPairs(
  job: WorkerJob,
  fmt: ChatFormat,
  seq: number,
): { train: PairRows[]; val: PairRows[] } {
  const { records, field } = examplesOf(job);
  const pairs = preferencesOf(records, field)
    .map((p) => tokenizePair(p, fmt))
    .map((t) => ({ chosen: toRow(t.chosen, seq), rejected: toRow(t.rejected, seq) }))
    .filter((p) => p.chosen.targetCount > 0 && p.rejected.targetCount > 0);
  if (pairs.length < 2)
    throw fieldError(
      field,
      `Only ${pairs.length} pair(s) keep answer tokens within context ${seq}; DPO needs at least 2.`,
    );
  const nVal = Math.max(1, Math.floor(pairs.length * job.spec.valFraction));
  return { train: pairs.slice(0, pairs.length - nVal), val: pairs.slice(pairs.length - nVal) };
}

/**
 * Rows of pairs as DPO and reward models batch them: every chosen row, then every rejected row; lastIndex
 * points at each row's last input token (where a reward model reads its score).
 */
function pairBatch(pairs: readonly PairRows[], seq: number): Batch {
  const rows = [...pairs.map((p) => p.chosen), ...pairs.map((p) => p.rejected)];
  return {
    ...batchOf(rows, seq),
    lastIndex: BigInt64Array.from(rows.map((r, i) => BigInt(i * seq + r.length - 1))),
  };
}

function batchOf(rows: readonly Row[], seq: number): Batch {
  const idx = new BigInt64Array(rows.length * seq);
  const targets = new BigInt64Array(rows.length * seq);
  rows.forEach((r, b) => {
    for (let t = 0; t < seq; t++) {
      idx[b * seq + t] = BigInt(r.idx[t]);
      targets[b * seq + t] = BigInt(r.targets[t]);
    }
  });
  if (!rows[0]?.positions) return { idx, targets };
  return {
    idx,
    targets,
    positions: BigInt64Array.from(rows.flatMap((r) => r.positions!.map(BigInt))),
    segments: Int32Array.from(rows.flatMap((r) => r.segments!)),
  };
}

export async function runFinetune(
  job: WorkerJob,
  control: Control,
  post: (m: WorkerMessage) => void,
): Promise<WorkerMessage> {
  const spec = job.spec;
  const ft = spec.finetune!;
  const folder = loadModelFolder(ft.baseDir);
  if (!folder.tokenizerJson)
    throw fieldError('finetune.baseModel', `The base model's folder ${ft.baseDir} has no tokenizer.json.`);
  const tok = parseTokenizerJson(folder.tokenizerJson, 'base model');
  const seq = Math.min(spec.context, folder.cfg.blockSize);
  const cfg: ModelConfig = { ...folder.cfg, dropout: 0 };
  const fmt = chatFormatOf(folder, tok);
  const dpo = ft.method === 'dpo';
  const reward = ft.method === 'reward';
  const paired = dpo || reward;
  const data = paired ? undefined : sftRows(job, fmt, seq);
  const pairs = paired ? dpoPairs(job, fmt, seq) : undefined;
  const lora: LoraConfig | undefined = ft.adapter !== 'full' ? ft.lora : undefined;
  const session = spec.threads ? { threads: spec.threads } : undefined;
  const trainer = await Trainer.create({
    cfg,
    // DPO's rows are pairs: batch pairs make 2 × batch rows.
    batch: paired ? 2 * spec.batch : spec.batch,
    seq,
    optim: { ...DEFAULT_OPTIM, weightDecay: spec.weightDecay, clip: spec.clip },
    seed: spec.seed,
    accumulate: spec.accumulate,
    session,
    ...(dpo ? { objective: { kind: 'dpo' as const, beta: ft.beta } } : {}),
    ...(reward ? { objective: { kind: 'reward' as const } } : {}),
    ...(ft.packing && !paired ? { packed: true } : {}),
    ...(lora
      ? {
          lora,
          frozen:
            ft.adapter === 'qlora'
              ? frozenNf4(folder.layout, folder.params)
              : frozenFp32(folder.layout, folder.params),
        }
      : { params: folder.params.slice() }),
  });
  try {
    const refs = dpo && pairs ? await referenceLogps(job.dir, trainer, pairs, seq, spec.batch) : undefined;
    // A reward model's trainable vector is the adapter's, then its scalar head (both decayed: layout order).
    const adapterSize = lora ? loraLayout(cfg, lora).total : 0;
    const adapterOf = (flat: Float32Array) => (reward ? flat.subarray(0, adapterSize) : flat);
    let rng = new Rng(spec.seed);
    let start = 0;
    let elapsedBase = 0;
    const latest = latestValidCheckpoint(job.dir, job.resumeLimit);
    if (latest.found) {
      const ck = latest.found.checkpoint;
      if (lora) {
        const dir = join(latest.found.dir, ADAPTER_DIR);
        const adapter = readPeftAdapter(dir, cfg);
        const optim = readSafetensors(join(dir, ADAPTER_OPTIM)).tensors;
        const head = reward ? readSafetensors(join(dir, REWARD_HEAD)).tensors.get(SCORE)?.data : undefined;
        trainer.load({
          params: head ? Float32Array.from([...adapter.params, ...head]) : adapter.params,
          m: optim.get('m')?.data,
          v: optim.get('v')?.data,
          step: ck.state?.step ?? 0,
        });
      } else trainer.load({ params: ck.params, m: ck.m, v: ck.v, step: ck.state?.step ?? 0 });
      start = ck.state?.step ?? 0;
      if (ck.state?.rng) rng = new Rng(ck.state.rng as RngState);
      elapsedBase = Number(ck.state?.elapsed ?? 0);
    }
    post({
      type: 'ready',
      vocabSize: cfg.vocabSize,
      parameters: trainer.layout.total,
      resumedFrom: start,
      rejected: latest.rejected,
    });
    const t0 = performance.now();
    const elapsed = () => elapsedBase + (performance.now() - t0) / 1000;
    const modelParams = (): Float32Array =>
      lora ? mergeLora(cfg, folder.layout, folder.params, lora, adapterOf(trainer.params)) : trainer.params;
    // The base's tokenizer files (with its chat template) travel with every checkpoint.
    const files: Record<string, string> = hfTokenizerFiles(tok, cfg.blockSize);
    for (const name of ['tokenizer_config.json', 'generation_config.json', 'chat_template.jinja'])
      if (existsSync(join(ft.baseDir, name))) files[name] = readFileSync(join(ft.baseDir, name), 'utf8');
    let lastSaved = start;
    let lastEval: { step: number; valLoss: number } | undefined;
    const save = (step: number) => {
      const { dir, kept, entries } = writeCheckpoint(
        job.dir,
        step,
        {
          cfg,
          params: modelParams(),
          ...(lora ? {} : { m: trainer.m, v: trainer.v }),
          state: {
            step,
            rng: rng.state(),
            seed: spec.seed,
            elapsed: elapsed(),
            jobId: job.jobId,
            baseModel: ft.baseModel,
            method: ft.method,
            adapter: ft.adapter,
          },
        },
        {
          files,
          ...(lastEval?.step === step ? { valLoss: lastEval.valLoss } : {}),
          write: lora
            ? (tmp) => {
                const dir = join(tmp, ADAPTER_DIR);
                writePeftAdapter(dir, cfg, lora, adapterOf(trainer.params), ft.baseModel);
                if (reward)
                  writeSafetensors(join(dir, REWARD_HEAD), [
                    { name: SCORE, shape: [1, cfg.nEmbd], data: trainer.layout.view(trainer.params, SCORE) },
                  ]);
                writeSafetensors(join(dir, ADAPTER_OPTIM), [
                  { name: 'm', shape: [trainer.m.length], data: trainer.m },
                  { name: 'v', shape: [trainer.v.length], data: trainer.v },
                ]);
              }
            : undefined,
        },
        { keepLast: spec.keepLast ?? 2, keepBest: spec.keepBest ?? false },
      );
      lastSaved = step;
      post({ type: 'checkpoint', step, dir, kept, entries });
    };
    /**
     * Each evaluated pair's rewards [chosen, rejected]: the whole val split, or evalIters batches of train
     * pairs drawn with the step's seed. `rows` scores a batch of pairs (chosen rows, then rejected rows), `rewardOf` turns a row's output into its reward.
     */
    const pairRewards = async (
      which: 'train' | 'val',
      step: number,
      rows: (b: Batch) => Promise<Float32Array>,
      rewardOf: (row: number, pair: number, chosen: boolean) => number,
    ) => {
      const list = pairs![which];
      const r = new Rng((spec.seed * 7919 + step * 104729 + 1) >>> 0);
      const n = which === 'val' ? list.length : Math.min(spec.evalIters * spec.batch, list.length);
      const picks = Array.from({ length: n }, (_, i) => (which === 'val' ? i : r.int(list.length)));
      const chosen = new Float64Array(n);
      const rejected = new Float64Array(n);
      for (let i = 0; i < n; i += spec.batch) {
        // The last batch is filled up by cycling; only its first picks count.
        const chunk = Array.from({ length: spec.batch }, (_, k) => picks[(i + k) % n]);
        const out = await rows(
          pairBatch(
            chunk.map((k) => list[k]),
            seq,
          ),
        );
        for (let k = 0; k < spec.batch && i + k < n; k++) {
          chosen[i + k] = rewardOf(out[k], chunk[k], true);
          rejected[i + k] = rewardOf(out[spec.batch + k], chunk[k], false);
        }
      }
      return pairMetrics(chosen, rejected);
    };
    // DPO's implicit reward β·(log π − log π_ref); a reward model's is its score.
    const evaluatePairs = (which: 'train' | 'val', step: number) =>
      reward
        ? pairRewards(
            which,
            step,
            (b) => trainer.rowScores(b),
            (score) => score,
          )
        : pairRewards(
            which,
            step,
            (b) => trainer.rowLogProbs(b),
            (logp, pair, chosen) => ft.beta * (logp - refs![which][2 * pair + (chosen ? 0 : 1)]),
          );
    const evaluate = async (rows: readonly Row[], step: number, salt: number): Promise<number> => {
      // Fixed batches of the split (cycled to whole batches); weighted by their answer tokens.
      const r = new Rng((spec.seed * 7919 + step * 104729 + salt) >>> 0);
      const n = Math.min(spec.evalIters, Math.ceil(rows.length / spec.batch));
      const batches = Array.from({ length: n }, (_, b) =>
        Array.from({ length: spec.batch }, (_, i) =>
          salt === 2 ? rows[(b * spec.batch + i) % rows.length] : rows[r.int(rows.length)],
        ),
      );
      const losses = await trainer.evaluateAll(batches.map((b) => batchOf(b, seq)));
      let sum = 0;
      let count = 0;
      batches.forEach((b, i) => {
        const c = b.reduce((k, row) => k + row.targetCount, 0);
        sum += losses[i] * c;
        count += c;
      });
      return sum / Math.max(1, count);
    };
    const sample = async (step: number): Promise<string> => {
      if (!spec.sampleTokens) return '';
      const first = data ? data.val[0] : pairs!.val[0].chosen;
      const decoder = await Decoder.create(cfg, modelParams().slice(), session ?? {});
      try {
        const end = first.targets.findIndex((t) => t !== -100);
        const prompt = first.idx.slice(0, end + 1);
        const ids = await decoder.generate(
          prompt,
          Math.min(spec.sampleTokens, cfg.blockSize - prompt.length),
          {
            temperature: 0.8,
            topK: 50,
            seed: (spec.seed + step) >>> 0,
          },
        );
        return `${tok.decode(prompt)}${tok.decode(ids)}`;
      } finally {
        await decoder.release();
      }
    };

    const tokensPerStep = spec.batch * seq * spec.accumulate;
    for (let iter = start; iter < spec.iters; iter++) {
      if (control.cancelled()) return { type: 'cancelled', step: iter };
      if (control.paused()) {
        if (lastSaved !== iter) save(iter);
        return { type: 'paused', step: iter };
      }
      const lr = lrAt(iter, {
        kind: spec.schedule,
        lr: spec.lr,
        minLr: spec.minLr,
        warmup: spec.warmup,
        iters: spec.iters,
      });
      const micro = Array.from({ length: spec.accumulate }, () => {
        if (data)
          return batchOf(
            Array.from({ length: spec.batch }, () => data.train[rng.int(data.train.length)]),
            seq,
          );
        const picks = Array.from({ length: spec.batch }, () => rng.int(pairs!.train.length));
        const b = pairBatch(
          picks.map((k) => pairs!.train[k]),
          seq,
        );
        if (refs) {
          const ref = refs.train;
          b.refLogp = Float32Array.from([
            ...picks.map((k) => ref[2 * k]),
            ...picks.map((k) => ref[2 * k + 1]),
          ]);
        }
        return b;
      });
      const ts = performance.now();
      const r = await trainer.step(micro, lr);
      const ms = performance.now() - ts;
      const step = iter + 1;
      post({
        type: 'step',
        step,
        loss: r.loss,
        lr,
        gradNorm: r.gradNorm,
        tokensPerSecond: tokensPerStep / Math.max(ms / 1000, 1e-9),
        elapsed: elapsed(),
        ...(r.rewards ? { preference: preferenceOf(r.rewards.chosen, r.rewards.rejected) } : {}),
      });
      if (step % spec.evalInterval === 0 || step === spec.iters) {
        let trainLoss: number;
        let valLoss: number;
        let preference: PreferenceMetrics | undefined;
        if (data) {
          trainLoss = await evaluate(data.train, step, 1);
          valLoss = await evaluate(data.val, step, 2);
        } else {
          trainLoss = (await evaluatePairs('train', step)).loss;
          ({ loss: valLoss, ...preference } = await evaluatePairs('val', step));
        }
        lastEval = { step, valLoss };
        post({
          type: 'eval',
          step,
          trainLoss,
          valLoss,
          perplexity: Math.exp(valLoss),
          sample: await sample(step),
          elapsed: elapsed(),
          ...(preference ? { preference } : {}),
        });
      }
      if (step % spec.checkpointInterval === 0 || step === spec.iters) save(step);
    }
    return { type: 'done', step: spec.iters };
  } finally {
    await trainer.release();
  }
}

/** A step's preference figures (its loss is the step's own). */
function preferenceOf(chosen: Float32Array, rejected: Float32Array): PreferenceMetrics {
  const { loss: _, ...figures } = pairMetrics(chosen, rejected);
  return figures;
}

const REFERENCE_FILE = 'reference_logp.json';
/** A reward model's scalar head, beside its adapter (Hugging Face's score.weight). */
const REWARD_HEAD = 'reward_head.safetensors';

/**
 * Each pair's reference log-probabilities [chosen, rejected] per split, computed once with the trainer's
 * initial weights (the base; a LoRA starts as the base) and kept in the job's folder, so a resumed job
 * compares with the same reference rather than with its own trained weights.
 */
async function referenceLogps(
  dir: string,
  trainer: Trainer,
  pairs: { train: PairRows[]; val: PairRows[] },
  seq: number,
  batch: number,
): Promise<{ train: Float32Array; val: Float32Array }> {
  const path = join(dir, REFERENCE_FILE);
  if (existsSync(path)) {
    const saved = JSON.parse(readFileSync(path, 'utf8')) as { train: number[]; val: number[] };
    if (saved.train.length === 2 * pairs.train.length && saved.val.length === 2 * pairs.val.length)
      return { train: Float32Array.from(saved.train), val: Float32Array.from(saved.val) };
  }
  const one = async (list: PairRows[]): Promise<Float32Array> => {
    const out = new Float32Array(2 * list.length);
    for (let i = 0; i < list.length; i += batch) {
      const chunk = Array.from({ length: batch }, (_, k) => list[(i + k) % list.length]);
      const lp = await trainer.rowLogProbs(pairBatch(chunk, seq));
      for (let k = 0; k < batch && i + k < list.length; k++) {
        out[2 * (i + k)] = lp[k];
        out[2 * (i + k) + 1] = lp[batch + k];
      }
    }
    return out;
  };
  const refs = { train: await one(pairs.train), val: await one(pairs.val) };
  writeFileSync(path, JSON.stringify({ train: [...refs.train], val: [...refs.val] }));
  return refs;
}

/** Copies a LoRA checkpoint's adapter folder (PEFT format) to `dest`. */
export function exportAdapter(checkpointDir: string, dest: string): void {
  const src = join(checkpointDir, ADAPTER_DIR);
  if (!existsSync(join(src, ADAPTER_WEIGHTS))) throw new Error(`${checkpointDir} holds no adapter`);
  cpSync(src, dest, { recursive: true, filter: (p) => !p.endsWith(ADAPTER_OPTIM) });
}
