// MergeAdapters: several adapters of one base merged (engine/src/finetune/merge.ts) into a model registered
// under a new name — or, for a linear merge of equal-rank adapters, into an adapter — and the fidelity
// report: the merged model as served (from the pool) against the adapters applied on the fly by the LoRA
// graph, on held-out text.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { datasetPath, LabError } from '@lab/common';
import {
  type FidelityReport,
  fidelityWindows,
  linearAdapterMerge,
  loadModelFolder,
  MERGE_METHODS,
  type MergeMethod,
  mergeAdapters,
  mergeFidelity,
  type WeightedAdapter,
} from '@lab/engine';
import type { AdapterInfo, MergeAdaptersRequest } from '@lab/proto/infer';
import type { Tokenizer } from '@lab/tokenizer';
import type { ModelCatalog, ModelEntry } from '../models/catalog.ts';
import type { ModelPool } from '../models/pool.ts';
import { writeModelFolder } from '../models/write.ts';
import { type AdapterRegistry, asFieldError } from './registry.ts';

/** Held-out text of the report: WikiText-2's raw test split (no model here trains on it). */
export const FIDELITY_TEXT = 'wikitext-2/wiki.test.raw.crlf-nonempty-lines';
/** Tokens compared: a few hundred, in windows no longer than the context. */
const FIDELITY_TOKENS = 512;
const FIDELITY_WINDOW = 128;

export interface MergeResult {
  entry: ModelEntry;
  adapter?: AdapterInfo;
  fidelity: FidelityReport & { text: string };
}

/**
 * Token ids of the held-out text for `tokenizer`, up to `limit`. A character vocabulary cannot encode every
 * character of WikiText; those characters are left out rather than failing the report.
 */
export function heldOutTokens(tokenizer: Tokenizer, limit: number): number[] {
  const lines = readFileSync(datasetPath(FIDELITY_TEXT), 'utf8').split(/\r?\n/);
  const ids: number[] = [];
  for (const line of lines.slice(200)) {
    const text = `${line.trim()}\n`;
    try {
      ids.push(...tokenizer.encode(text));
    } catch {
      for (const ch of text)
        try {
          ids.push(...tokenizer.encode(ch));
        } catch {
          // Not in the vocabulary.
        }
    }
    if (ids.length >= limit) break;
  }
  return ids.slice(0, limit);
}

function validate(req: MergeAdaptersRequest): { method: MergeMethod; density: number } {
  if (!(MERGE_METHODS as readonly string[]).includes(req.method))
    throw new LabError(
      'INVALID_ARGUMENT',
      `method: must be one of ${MERGE_METHODS.join(', ')} (got ${JSON.stringify(req.method)})`,
      'method',
    );
  const method = req.method as MergeMethod;
  if (!req.adapters.length)
    throw new LabError('INVALID_ARGUMENT', 'adapters: name at least one adapter to merge', 'adapters');
  req.adapters.forEach((a, i) => {
    if (!Number.isFinite(a.weight))
      throw new LabError(
        'INVALID_ARGUMENT',
        `adapters[${i}].weight: must be a finite number`,
        `adapters[${i}].weight`,
      );
  });
  const density = req.density ?? (method === 'linear' ? 1 : 0.5);
  if (!(density > 0 && density <= 1))
    throw new LabError('INVALID_ARGUMENT', `density: must be in (0, 1] (got ${density})`, 'density');
  if (req.asAdapter && method !== 'linear')
    throw new LabError(
      'INVALID_ARGUMENT',
      `asAdapter: only a linear merge can stay an adapter (TIES and DARE act on full deltas, which have no rank-r form)`,
      'asAdapter',
    );
  return { method, density };
}

export async function mergeAndReport(
  req: MergeAdaptersRequest,
  deps: { catalog: ModelCatalog; registry: AdapterRegistry; pool: ModelPool; home: string },
): Promise<MergeResult> {
  const { method, density } = validate(req);
  deps.registry.assertFree(req.name);
  const base = await deps.catalog.resolve(req.base, 'base');
  const loaded = await Promise.all(
    req.adapters.map((a, i) => deps.registry.load(a.name, `adapters[${i}].name`)),
  );
  loaded.forEach((a, i) => {
    if (a.base !== req.base)
      throw new LabError(
        'INVALID_ARGUMENT',
        `adapters[${i}].name: "${a.name}" is an adapter of "${a.base}", not of "${req.base}"`,
        `adapters[${i}].name`,
      );
  });
  const weighted: WeightedAdapter[] = loaded.map((a, i) => ({
    lora: a.lora,
    params: a.params,
    weight: req.adapters[i].weight,
  }));
  const folder = loadModelFolder(base.path, { maxBytes: Number.POSITIVE_INFINITY, requireTokenizer: false });
  const mergedFrom = req.adapters.map((a) => `${a.name}×${a.weight}`);
  let entry: ModelEntry;
  let adapter: AdapterInfo | undefined;
  try {
    if (req.asAdapter) {
      const { lora, params } = linearAdapterMerge(folder.cfg, weighted);
      adapter = await deps.registry.registerValues(
        req.name,
        req.base,
        { lora, params, baseModel: req.base },
        { source: 'merged', mergedFrom, mergeMethod: 'linear' },
      );
      entry = await deps.catalog.resolve(req.name, 'name');
    } else {
      const merged = mergeAdapters(folder.cfg, folder.layout, folder.params, weighted, {
        method,
        density,
        seed: Number(req.seed ?? 0),
      });
      const dir = join(deps.home, 'infer', 'merged', req.name);
      writeModelFolder(dir, folder.cfg, merged, { dir: base.path, builtinTokenizer: base.builtinTokenizer });
      entry = await deps.catalog.register(req.name, dir, base.quantize);
    }
  } catch (err) {
    throw asFieldError(err, 'adapters');
  }
  const fidelity = await deps.pool.use(entry, async (m) => {
    const length = Math.min(FIDELITY_WINDOW, folder.cfg.blockSize);
    const ids = heldOutTokens(m.tokenizer, FIDELITY_TOKENS);
    const windows = fidelityWindows(ids, length, Math.max(1, Math.floor(FIDELITY_TOKENS / length)));
    if (!windows.length)
      throw new LabError(
        'FAILED_PRECONDITION',
        `base: the tokenizer of ${req.base} encodes too little of the held-out text for a fidelity report`,
        'base',
      );
    return mergeFidelity(
      folder.cfg,
      folder.layout,
      folder.params,
      weighted,
      windows,
      async (w) => (await m.lm.run(w, undefined, { allPositions: true })).logits,
    );
  });
  return { entry, adapter, fidelity: { ...fidelity, text: FIDELITY_TEXT } };
}
