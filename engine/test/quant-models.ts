// The small models the quantisation tests decode: every linear width a multiple of MatMulNBits' block of 32.
import { gpt2Config, llamaConfig } from '../src/models/config.ts';

export const gpt2 = gpt2Config({
  nLayer: 2,
  nHead: 2,
  nEmbd: 64,
  ffnHidden: 256,
  blockSize: 64,
  vocabSize: 97,
});
export const llama = llamaConfig({
  nLayer: 2,
  nHead: 4,
  nKvHead: 2,
  nEmbd: 64,
  ffnHidden: 96,
  blockSize: 64,
  vocabSize: 71,
});
