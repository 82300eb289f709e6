// Test models whose char tokenizer also has chat markers: the tokenizer.json of a char vocabulary with
// `specials` added after it as special tokens, as a Hugging Face tokenizer lists its added tokens.
import { serializeTokenizer } from '@lab/tokenizer';
import type { CharCodec } from '../src/commands/char-codec.ts';

export function charTokenizerWithSpecials(codec: CharCodec, specials: readonly string[]): string {
  const json = serializeTokenizer(codec.toTokenizer()) as {
    model: { vocab: Record<string, number> };
    added_tokens?: unknown[];
  };
  json.added_tokens = specials.map((content, i) => {
    json.model.vocab[content] = codec.vocabSize + i;
    return {
      id: codec.vocabSize + i,
      content,
      special: true,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
    };
  });
  return JSON.stringify(json);
}
