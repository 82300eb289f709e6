// Fine-tuning benchmark (npm run bench:finetune): one step of full SFT, LoRA and QLoRA on the same model and
// batch, for the nanogpt-shakespeare and llama-small shapes — ms per step, tokens/s, trainable parameters,
// and the memory each method holds (weights, adapters, AdamW moments). Decode speed and perplexity of the
// int8 and int4 weight formats are bench:infer's rows (`npm run bench:infer -- --only gpt2-small`).
// Flags: --only <preset>, --steps N (timed steps, default 5), --batch N (default 8), --seq N (default 256).
import { parseArgs } from 'node:util';
import {
  BatchSampler,
  frozenFp32,
  frozenNf4,
  type LoraConfig,
  loraTargetsOf,
  paramLayout,
  preset,
  Rng,
  Trainer,
} from '@lab/engine';

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    steps: { type: 'string', default: '5' },
    batch: { type: 'string', default: '8' },
    seq: { type: 'string', default: '256' },
  },
});
const steps = Number(values.steps);
const batch = Number(values.batch);
const seq = Number(values.seq);
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

for (const name of ['nanogpt-shakespeare', 'llama-small']) {
  if (values.only && values.only !== name) continue;
  const cfg = { ...preset(name, { vocabSize: 65, blockSize: seq }), dropout: 0 };
  const layout = paramLayout(cfg);
  const base = layout.init(1);
  // Every projection of the family, rank 8 (alpha 16), as a full-coverage LoRA.
  const lora: LoraConfig = { rank: 8, alpha: 16, dropout: 0, targets: loraTargetsOf(cfg) };
  const tokens = Int32Array.from({ length: 200_000 }, (_, i) => (i * 7 + ((i * i) % 13)) % 65);
  const sampler = new BatchSampler(tokens, batch, seq);
  console.log(`\n${name}: ${layout.total.toLocaleString('en')} parameters, batch ${batch} × ${seq} tokens`);
  console.log('method  ms/step  tokens/s  trainable     weights    adapter+AdamW');
  for (const method of ['full', 'lora', 'qlora'] as const) {
    const frozen =
      method === 'full' ? undefined : method === 'qlora' ? frozenNf4(layout, base) : frozenFp32(layout, base);
    const tr = await Trainer.create({
      cfg,
      batch,
      seq,
      seed: 1,
      ...(method === 'full' ? { params: base.slice() } : { lora, frozen }),
    });
    const rng = new Rng(2);
    for (let i = 0; i < 2; i++) await tr.step([sampler.next(rng)], 1e-3);
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) await tr.step([sampler.next(rng)], 1e-3);
    const ms = (performance.now() - t0) / steps;
    const trainable = tr.layout.total;
    const weights = method === 'full' ? base.byteLength : frozen!.bytes;
    // Trainable values, their AdamW moments (m, v) and the trainer's second set it swaps with: 6 × 4 bytes.
    const state = trainable * 4 * 6;
    console.log(
      `${method.padEnd(6)}  ${ms.toFixed(0).padStart(7)}  ${((batch * seq) / (ms / 1000)).toFixed(0).padStart(8)}  ${trainable.toLocaleString('en').padStart(10)}  ${mb(weights).padStart(10)}  ${mb(state).padStart(12)}`,
    );
    await tr.release();
  }
}
