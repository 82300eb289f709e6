// The request's sampling settings (proto form) → the sampler's, validated with errors naming
// `params.<field>`; and one Sampler per sample.
import { randomInt } from 'node:crypto';
import { LabError } from '@lab/common';
import type { SamplingParams as ProtoParams } from '@lab/proto/infer';
import { type SamplingParams, validateSamplingParams } from '../sampling/params.ts';
import { Sampler } from '../sampling/sampler.ts';

/** Samples per request: each holds its own KV cache and streams in turn (the API's documented 1..8). */
export const MAX_SAMPLES = 8;
/** Beams per request; every beam is a forward pass per step. */
export const MAX_BEAMS = 16;

/** The sampler's settings from a request; unset fields take the sampler's defaults. */
export function samplerSettings(
  p: ProtoParams | undefined,
  seed: number,
): Partial<SamplingParams> & { seed: number } {
  const logitBias: Record<string, number> = {};
  for (const [k, v] of Object.entries(p?.logitBias ?? {})) logitBias[k] = v;
  return {
    temperature: p?.temperature ?? 1,
    topK: p?.topK ?? 0,
    topP: p?.topP ?? 1,
    minP: p?.minP ?? 0,
    repetitionPenalty: p?.repetitionPenalty ?? 1,
    frequencyPenalty: p?.frequencyPenalty ?? 0,
    presencePenalty: p?.presencePenalty ?? 0,
    logitBias,
    seed,
    topLogprobs: p?.topLogprobs ?? 0,
  };
}

/** Checks a request's settings before anything loads; throws INVALID_ARGUMENT naming `params.<field>`. */
export function validateParams(p: ProtoParams | undefined, vocabSize?: number): void {
  const bad = (field: string, message: string): never => {
    throw new LabError('INVALID_ARGUMENT', `params.${message}`, `params.${field}`);
  };
  const issues = validateSamplingParams(
    { ...samplerSettings(p, p?.seed ?? 0), stop: p?.stop ?? [] },
    vocabSize,
  );
  if (issues.length) bad(issues[0]!.field, issues[0]!.message);
  if (!p) return;
  if (p.n > MAX_SAMPLES) bad('n', `n: must be an integer in [1, ${MAX_SAMPLES}], got ${p.n}`);
  if (p.numBeams > MAX_BEAMS) bad('numBeams', `numBeams: must be at most ${MAX_BEAMS}, got ${p.numBeams}`);
  if (p.numBeams > 1 && p.n > 1) bad('n', 'n: beam search returns its n-best in one answer; leave n at 1');
  if (p.earlyStopping && !['true', 'false', 'never'].includes(p.earlyStopping))
    bad(
      'earlyStopping',
      `earlyStopping: must be "true", "false" or "never", got ${JSON.stringify(p.earlyStopping)}`,
    );
  if (p.lengthPenalty !== undefined && !Number.isFinite(p.lengthPenalty))
    bad('lengthPenalty', 'lengthPenalty: must be a finite number');
}

/** A seed for a request that has none, so it can be reported and replayed. */
export const drawSeed = (): number => randomInt(0, 2 ** 32);

export function samplerFor(
  p: ProtoParams | undefined,
  seed: number,
  vocabSize: number,
  sample: number,
): Sampler {
  const s = samplerSettings(p, seed);
  return new Sampler(s as SamplingParams, vocabSize, sample);
}
