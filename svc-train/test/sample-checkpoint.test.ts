// Generation runs on the checkpoint's weights. A checkpoint written by `lab-train pretrain`:
//  - the decoder (the inference graph with its KV cache) given validation text reproduces, from its logits,
//    the loss the training graph computes on the same rows — so the two graphs are one model;
//  - `lab-train sample` draws exactly what that decoder draws from the checkpoint with the same settings.
// Zero (or any other) weights in place of the checkpoint's give the uniform loss ln(V) and other text.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datasetPath } from '@lab/common';
import { Decoder, loadCheckpoint, Trainer } from '@lab/engine';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CharCodec } from '../src/commands/char-codec.ts';
import { pretrain } from '../src/commands/pretrain.ts';
import { sample } from '../src/commands/sample.ts';

const dir = mkdtempSync(join(tmpdir(), 'lab-sample-ckpt-'));
const text = readFileSync(datasetPath('tinyshakespeare', 'input.txt'), 'utf8').slice(0, 40_000);
const data = join(dir, 'input.txt');
writeFileSync(data, text);
const ckpt = join(dir, 'ckpt');
// The last tenth is pretrain's validation split; rows from its end.
const validation = text.slice(-2_000);

/** What a command writes to stdout (the CLI prints its result there). */
async function stdout(fn: () => Promise<void>): Promise<string> {
  const chunks: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    chunks.push(String(s));
    return true;
  });
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    await fn();
  } finally {
    write.mockRestore();
    log.mockRestore();
  }
  return chunks.join('');
}

beforeAll(async () => {
  await stdout(() =>
    pretrain(
      '--data DATA --tokenizer char --preset nanogpt-cpu --iters 60 --out OUT --layers 1 --width 32 --heads 2 --context 32 --batch 8 --eval-interval 60 --eval-iters 1 --log-interval 60'
        .split(' ')
        .map((a) => (a === 'DATA' ? data : a === 'OUT' ? ckpt : a)),
    ),
  );
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('generation on a checkpoint', () => {
  it("the decoder's logits on validation text give the training graph's loss", async () => {
    const ck = loadCheckpoint(ckpt);
    const codec = CharCodec.load(join(ckpt, 'tokenizer.json'));
    const V = ck.cfg.vocabSize;
    const rows = 4;
    const seq = 32;
    const ids = codec.encode(validation);
    const idx = new BigInt64Array(rows * seq);
    const targets = new BigInt64Array(rows * seq);
    for (let r = 0; r < rows; r++)
      for (let t = 0; t < seq; t++) {
        idx[r * seq + t] = BigInt(ids[r * 100 + t]!);
        targets[r * seq + t] = BigInt(ids[r * 100 + t + 1]!);
      }

    const trainer = await Trainer.create({ cfg: ck.cfg, batch: rows, seq, seed: 1, session: { threads: 1 } });
    trainer.load({ params: ck.params });
    const trainingLoss = await trainer.evaluate({ idx, targets });
    await trainer.release();

    const decoder = await Decoder.create(ck.cfg, ck.params, { threads: 1 });
    let nll = 0;
    try {
      for (let r = 0; r < rows; r++) {
        decoder.reset();
        const { logits } = await decoder.feed(Array.from(idx.subarray(r * seq, (r + 1) * seq), Number));
        for (let t = 0; t < seq; t++) {
          const row = logits.subarray(t * V, (t + 1) * V);
          const max = row.reduce((a, b) => Math.max(a, b), -Infinity);
          const lse = max + Math.log(row.reduce((a, b) => a + Math.exp(b - max), 0));
          nll += lse - row[Number(targets[r * seq + t])]!;
        }
      }
    } finally {
      await decoder.release();
    }
    const decoderLoss = nll / (rows * seq);
    // Float32 graphs of different shapes (fused attention with a cache vs the training graph): equal to
    // float32 rounding of a sum over 128 tokens.
    expect(Math.abs(decoderLoss - trainingLoss)).toBeLessThan(1e-4);
    // And trained: well below the uniform distribution's ln V, which all-zero weights give.
    expect(trainingLoss).toBeLessThan(Math.log(V) - 0.5);
  });

  it('`lab-train sample` draws what the decoder draws from the checkpoint', async () => {
    const ck = loadCheckpoint(ckpt);
    const codec = CharCodec.load(join(ckpt, 'tokenizer.json'));
    const prompt = validation.slice(0, 24);
    const decoder = await Decoder.create(ck.cfg, ck.params);
    let want: string;
    try {
      want = codec.decode(
        await decoder.generate(Array.from(codec.encode(prompt)), 48, {
          temperature: 0.8,
          topK: 200,
          seed: 7,
        }),
      );
    } finally {
      await decoder.release();
    }
    const args = ['--ckpt', ckpt, '--prompt', prompt, '--tokens', '48', '--seed', '7'];
    expect(await stdout(() => sample(args))).toBe(`${prompt}${want}\n`);
    // Greedy too: each character the command picks is the checkpoint's most likely next one.
    const greedy = await stdout(() => sample([...args, '--temperature', '0']));
    const dec = await Decoder.create(ck.cfg, ck.params);
    try {
      const out = await dec.generate(Array.from(codec.encode(prompt)), 48, { temperature: 0 });
      expect(greedy).toBe(`${prompt}${codec.decode(out)}\n`);
    } finally {
      await dec.release();
    }
  });
});
