// `lab-train sample`: generate text from a checkpoint directory written by `pretrain`.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Decoder, loadCheckpoint } from '@lab/engine';
import { CharCodec } from './char-codec.ts';
import { type FlagSpec, int, num, parseFlags, str, UsageError } from './flags.ts';

const HELP = `usage: lab-train sample --ckpt DIR [--prompt TEXT] [--tokens N] [options]

Generate text from a checkpoint (model.safetensors + config.json + tokenizer.json) with a KV cache.

  --ckpt DIR           checkpoint directory written by pretrain (required)
  --prompt TEXT        text to continue (default: a newline)
  --tokens N           tokens to generate (default 200)
  --temperature X      sampling temperature; 0 = greedy (default 0.8)
  --top-k K            sample from the K most likely tokens; 0 = all (default 200)
  --seed N             sampler seed (default 1337)
  -h, --help           this text
`;

const SPEC: FlagSpec = {
  ckpt: { type: 'string' },
  prompt: { type: 'string' },
  tokens: { type: 'string' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  seed: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

const CMD = 'sample';

export async function sample(argv: string[]): Promise<void> {
  const v = parseFlags(CMD, argv, SPEC);
  if (v.help) {
    process.stdout.write(HELP);
    return;
  }
  const dir = str(v, 'ckpt');
  if (!dir) throw new UsageError(`${CMD}: --ckpt DIR is required (see ${CMD} --help)`);
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json']) {
    if (!existsSync(join(dir, f))) throw new UsageError(`${CMD}: --ckpt ${dir} has no ${f}`);
  }
  const tokens = int(CMD, v, 'tokens', 200, 0);
  const temperature = num(CMD, v, 'temperature', 0.8);
  if (temperature < 0) throw new UsageError(`${CMD}: --temperature must be ≥ 0, got '${v.temperature}'`);
  const topK = int(CMD, v, 'top-k', 200, 0);
  const seed = int(CMD, v, 'seed', 1337, 0);
  const codec = CharCodec.load(join(dir, 'tokenizer.json'));
  const prompt = str(v, 'prompt') ?? '\n';
  let ids: Int32Array;
  try {
    ids = codec.encode(prompt);
  } catch (err) {
    throw new UsageError(`${CMD}: --prompt: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (ids.length === 0) throw new UsageError(`${CMD}: --prompt must not be empty`);
  const ck = loadCheckpoint(dir);
  const decoder = await Decoder.create(ck.cfg, ck.params);
  try {
    const out = await decoder.generate(Array.from(ids), tokens, { temperature, topK, seed });
    process.stdout.write(`${prompt}${codec.decode(out)}\n`);
  } finally {
    await decoder.release();
  }
}
