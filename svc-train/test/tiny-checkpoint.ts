// The smallest checkpoint a job writes (a one-layer model of 16 tokens, optimizer moments and RNG state):
// for tests of checkpoint files on disk, where only the files matter, not the model.
import { paramLayout, preset, Rng } from '@lab/engine';

const cfg = preset('nanogpt-cpu', {
  vocabSize: 16,
  blockSize: 8,
  nLayer: 1,
  nEmbd: 8,
  nHead: 2,
  nKvHead: 2,
  ffnHidden: 16,
  dropout: 0,
});
const params = paramLayout(cfg).init(1);

/** The checkpoint of `step`, as writeCheckpoint takes it. */
export const tinyCheckpoint = (step: number) => ({
  cfg,
  params,
  m: new Float32Array(params.length),
  v: new Float32Array(params.length),
  state: { step, rng: new Rng(1).state() },
});
