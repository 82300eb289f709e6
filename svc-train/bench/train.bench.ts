// Training benchmark (npm run bench:train).
//  (a) nanoGPT's shakespeare_char CPU recipe end to end (2,000 iterations, batch 12, context 64):
//      wall seconds, ms/iter, tokens/s, final val loss. Reference (nanoGPT, PyTorch 1.13 + OpenBLAS, this
//      2-core machine, recorded with the issue): 131.7 s, val loss 1.886. Targets: val loss ≤ 1.89, ≥ 1.5×.
//  (b) nanogpt-shakespeare (6/6/384, context 256, dropout 0.2) at batch 64 for 20 iterations: tokens/s and
//      achieved GFLOP/s. Reference: nanoGPT 1,587 tokens/s; target ≥ 1.25×.
//  With NANOGPT_DIR (see nanogpt.ts) nanoGPT itself runs right after each part and the ratio is taken in
//  the same run, as figures on this VM drift too much for ratios against numbers from another day.
//  Then an ORT profile of one training step per workload, time grouped by op type.
// Flags: --only a|b, --iters N (recipe length for a), --b-iters N, --rows N and --workers N (b's execution
// plan; default planExecution's), --no-profile.
//
// Recorded 2026-12-01 on this 2-core VM, `NANOGPT_DIR=<nanoGPT checkout> npm run bench:train` (Debian's
// PyTorch 1.13 with OpenBLAS, nanoGPT run right after the lab in the same process), in an hour when nanoGPT
// itself ran 1.5× slower than the issue's recorded figures:
//  (a) lab 163.8 s wall, 75.5 ms/iter, 10,172 tokens/s, val loss 1.8689; nanoGPT 200.0 s, val loss 1.8925
//      → 1.22× in the same run (recorded nanoGPT 131.7 s → 0.80×).
//  (b) lab 1,419 tokens/s (median iteration 1,424), 100.6 GFLOP/s, 16 runs of 4 rows on 2 gradient workers;
//      nanoGPT 1,004 tokens/s (median iteration) → 1.42× in the same run (recorded 1,587 → 0.89×).
//  Later the same day, with dynamic blocks (DYNAMIC_BLOCK_BASE) and 10–33% CPU steal on the VM:
//  (a) lab 169.1 s, 80.0 ms/iter, val loss 1.8689; nanoGPT 200.2 s → 1.18× in the same run.
//  With bound sessions (engine/src/runtime/bound.ts: no output copies), the same day: lab 168.1 → 132.3 s
//  wall, 79.6 → 60.8 ms/iter, 1.14× → 1.47× (nanoGPT 192.1 and 194.7 s); 1.47× twice more as the VM slowed
//  (nanoGPT 204.1 and 216.5 s). Then with parallel evaluation and the causal softmax without denormals:
//  (a) lab 130.6 s, 60.7 ms/iter, val loss 1.8689; nanoGPT 206.3 s → 1.58× in the same run; in the next
//      run lab 117.7 s, 55.5 ms/iter, nanoGPT 201.5 s → 1.71×; with the final code of that day lab 124.5 s,
//      58.6 ms/iter, nanoGPT 202.9 s → 1.63×.
//  (b) lab 1,329 tokens/s (median iteration 1,428), 94.3 GFLOP/s; nanoGPT 924 → 1.55× in the same run.
import { mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  BatchSampler,
  buildStepGraph,
  createSession,
  DEFAULT_OPTIM,
  DropoutMasks,
  estimateModel,
  type ModelConfig,
  ort,
  paramLayout,
  preset,
  Rng,
  StateSet,
  Trainer,
} from '@lab/engine';
import { pretrain } from '../src/commands/pretrain.ts';
import { runNanoGpt } from './nanogpt.ts';

const DATA = join(import.meta.dirname, '../../../shared/datasets/tinyshakespeare/input.txt');
const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    iters: { type: 'string', default: '2000' },
    'b-iters': { type: 'string', default: '20' },
    'no-profile': { type: 'boolean' },
    rows: { type: 'string' },
    workers: { type: 'string' },
  },
});

async function benchRecipe(iters: number): Promise<void> {
  const out = mkdtempSync(join(tmpdir(), 'bench-train-'));
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => {
    lines.push(a.join(' '));
    if (/^step |^done|^model|^plan/.test(String(a[0]))) log(...a);
  };
  const t0 = performance.now();
  try {
    await pretrain([
      '--data',
      DATA,
      '--tokenizer',
      'char',
      '--preset',
      'nanogpt-cpu',
      '--iters',
      String(iters),
      '--out',
      out,
    ]);
  } finally {
    console.log = log;
    rmSync(out, { recursive: true, force: true });
  }
  const wall = (performance.now() - t0) / 1000;
  const last = lines[lines.length - 1];
  const val = Number(/val_loss=([\d.]+)/.exec(last)?.[1]);
  const msIter = Number(/ms\/iter=([\d.]+)/.exec(last)?.[1]);
  const tps = Number(/tokens\/s=(\d+)/.exec(last)?.[1]);
  console.log(
    `(a) nanogpt-cpu recipe, ${iters} iters: wall ${wall.toFixed(1)} s (recorded nanoGPT 131.7 s → ${(131.7 / wall).toFixed(2)}×), ` +
      `${msIter.toFixed(1)} ms/iter (step only), ${tps} tokens/s, final val loss ${val.toFixed(4)} (nanoGPT 1.886)`,
  );
  const r = runNanoGpt([
    '--eval_iters=20',
    '--log_interval=1',
    '--block_size=64',
    '--batch_size=12',
    '--n_layer=4',
    '--n_head=4',
    '--n_embd=128',
    `--max_iters=${iters}`,
    `--lr_decay_iters=${iters}`,
    '--dropout=0.0',
  ]);
  if (r)
    console.log(
      `(a) nanoGPT now, same recipe: wall ${r.wallSeconds.toFixed(1)} s, val loss ${r.valLoss.toFixed(4)} → ` +
        `lab ${(r.wallSeconds / wall).toFixed(2)}× faster in this run`,
    );
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];

function shakespeareCfg(): ModelConfig {
  return preset('nanogpt-shakespeare', { vocabSize: 65 });
}

async function benchLarge(iters: number): Promise<void> {
  const cfg = shakespeareCfg();
  const batch = 64;
  const seq = cfg.blockSize;
  const text = readFileSync(DATA, 'utf8');
  const chars = [...new Set(text)].sort();
  const tokens = Int32Array.from(text, (c) => chars.indexOf(c));
  const t0 = performance.now();
  const plan = {
    rowsPerRun: values.rows ? Number(values.rows) : undefined,
    workers: values.workers ? Number(values.workers) : undefined,
  };
  const trainer = await Trainer.create({ cfg, batch, seq, seed: 1337, plan });
  const createS = (performance.now() - t0) / 1000;
  const sampler = new BatchSampler(tokens, batch, seq);
  const rng = new Rng(1337);
  const t1 = performance.now();
  let loss = 0;
  const iterMs: number[] = [];
  for (let i = 0; i < iters; i++) {
    const ti = performance.now();
    loss = (await trainer.step([sampler.next(rng)], 6e-4 * Math.min(1, (i + 1) / 10))).loss;
    iterMs.push(performance.now() - ti);
  }
  const s = (performance.now() - t1) / 1000;
  const tps = (iters * batch * seq) / s;
  const est = estimateModel(cfg, batch, seq);
  const gflops = (tps * est.flopsPerToken.total) / 1e9;
  console.log(
    `(b) nanogpt-shakespeare batch ${batch}×${seq}, ${iters} iters: ${(s / iters).toFixed(2)} s/iter, ${Math.round(tps)} tokens/s ` +
      `(nanoGPT 1,587 → ${(tps / 1587).toFixed(2)}×), ${gflops.toFixed(1)} GFLOP/s achieved ` +
      `(${(est.flopsPerToken.total / 1e6).toFixed(1)} MFLOP/token), loss ${loss.toFixed(3)}, session build ${createS.toFixed(1)} s, ` +
      `${trainer.plan.runs} runs of ${trainer.plan.rowsPerRun} rows on ${trainer.threading}`,
  );
  await trainer.release();
  // nanoGPT's first iterations are slower (allocation), so both sides are compared on median iterations.
  const r = runNanoGpt([
    '--eval_iters=1',
    '--eval_interval=1000000',
    '--log_interval=1',
    `--max_iters=${iters}`,
    `--batch_size=${batch}`,
  ]);
  if (!r) return;
  const theirs = (batch * seq) / (median(r.iterMs.slice(2)) / 1000);
  const ours = (batch * seq) / (median(iterMs.slice(2)) / 1000);
  console.log(
    `(b) nanoGPT now, same shape: ${Math.round(theirs)} tokens/s (median iteration) against the lab's ` +
      `${Math.round(ours)} → lab ${(ours / theirs).toFixed(2)}× in this run`,
  );
}

/**
 * Profile `runs` training steps with ORT's profiler and print kernel time by op type. `threads`: as the
 * execution plan runs the workload (a gradient worker's session is single-threaded).
 */
async function profile(
  label: string,
  cfg: ModelConfig,
  batch: number,
  seq: number,
  runs: number,
  threads?: number,
): Promise<void> {
  const layout = paramLayout(cfg);
  const g = buildStepGraph({
    cfg,
    layout,
    batch,
    seq,
    optim: DEFAULT_OPTIM,
    ignoreIndex: -100,
    mode: 'step',
    accumulateIn: false,
    gradScale: 1,
  });
  const prefix = join(tmpdir(), `lab-prof-${process.pid}`);
  const s = await createSession(g, { profilePrefix: prefix, threads });
  const ids = () =>
    new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: batch * seq }, (_, i) => BigInt((i * 7) % 65)),
      [batch, seq],
    );
  const masks = new DropoutMasks(g, cfg.dropout);
  const scalar = (x: number) => new ort.Tensor('float32', Float32Array.of(x), []);
  const feeds = {
    ...new StateSet(layout, layout.init(1)).inputs,
    ...masks.fill(1, 0, 0),
    idx: ids(),
    targets: ids(),
    lr: scalar(1e-3),
    step: scalar(1),
  };
  const fetches = {
    loss: scalar(0),
    grad_norm: scalar(0),
    ...new StateSet(layout, new Float32Array(layout.total)).outputs,
  };
  for (let i = 0; i < runs; i++) await s.run(feeds, fetches);
  s.endProfiling();
  await s.release();
  const dir = tmpdir();
  const file = readdirSync(dir).find((f) => f.startsWith(`lab-prof-${process.pid}`));
  if (!file) throw new Error('no profile written');
  const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
    cat: string;
    name: string;
    dur: number;
    args?: { op_name?: string };
  }[];
  unlinkSync(join(dir, file));
  const byOp = new Map<string, number>();
  const byPhase = new Map<string, number>();
  let kernel = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const op = e.args?.op_name ?? '?';
    byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
    // Node names carry their scope: grad.* is the backward pass, optim.* the optimizer.
    const phase = e.name.startsWith('grad.')
      ? 'backward'
      : e.name.startsWith('optim.')
        ? 'optimizer'
        : 'forward';
    byPhase.set(phase, (byPhase.get(phase) ?? 0) + e.dur);
    kernel += e.dur;
  }
  const runsEv = events.filter((e) => e.name === 'model_run');
  const runMs = runsEv.slice(1).reduce((a, e) => a + e.dur, 0) / Math.max(1, runsEv.length - 1) / 1000;
  console.log(
    `profile ${label}: ${runMs.toFixed(1)} ms/step under the profiler, ${g.nodes.length} graph nodes`,
  );
  const share = (us: number) => `${((100 * us) / kernel).toFixed(1)}%`;
  console.log(`  ${[...byPhase].map(([k, us]) => `${k} ${share(us)}`).join(', ')}`);
  const top = [...byOp].sort((a, b) => b[1] - a[1]).slice(0, 12);
  for (const [op, us] of top)
    console.log(`  ${op.padEnd(22)} ${((100 * us) / kernel).toFixed(1).padStart(5)}%`);
}

if (values.only !== 'b') await benchRecipe(Number(values.iters));
if (values.only !== 'a') await benchLarge(Number(values['b-iters']));
if (!values['no-profile']) {
  if (values.only !== 'b')
    await profile('nanogpt-cpu (12×64)', preset('nanogpt-cpu', { vocabSize: 65 }), 12, 64, 10);
  if (values.only !== 'a') {
    // As a gradient worker runs it: 4 rows per run on one thread (see planExecution).
    await profile('nanogpt-shakespeare (4×256, one worker thread)', shakespeareCfg(), 4, 256, 4, 1);
  }
}
