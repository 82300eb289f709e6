// The ids a model's generation stops on, derived from its folder's files. One derivation for the pool (what
// generation really stops on) and for svc-train's end-of-turn checks, so a check cannot disagree with the
// service it vouches for.
import { addedTokenText } from '@lab/engine';
import type { Tokenizer } from '@lab/tokenizer';
import { describeFolder, type FolderInfo, loadFolderTokenizer } from './folder.ts';

/** The generation-ending ids of a model: generation_config, then config.json, then the tokenizer's eos. */
export function eosIdsOf(info: FolderInfo, tok: Tokenizer, eosToken: string | undefined): Set<number> {
  const ids = new Set<number>();
  const add = (v: unknown) => {
    if (typeof v === 'number') ids.add(v);
    else if (Array.isArray(v)) for (const x of v) if (typeof x === 'number') ids.add(x);
  };
  add(info.generationConfig?.eos_token_id);
  if (!ids.size) add(info.hfConfig.eos_token_id);
  if (eosToken !== undefined) {
    const id = tok.specialTokens.get(eosToken);
    if (id !== undefined) ids.add(id);
  }
  // Lab checkpoints' config.json carries GPT-2's eos id even for char models: keep only real ids.
  for (const id of ids) if (id >= info.cfg.vocabSize) ids.delete(id);
  return ids;
}

/** The stop ids svc-infer would use for the model folder at `dir`, sorted. */
export function folderStopIds(dir: string, builtinTokenizer?: string): number[] {
  const info = describeFolder(dir, 'path');
  const tok = loadFolderTokenizer(dir, builtinTokenizer);
  return [...eosIdsOf(info, tok, addedTokenText(info.tokenizerConfig?.eos_token))].sort((a, b) => a - b);
}
