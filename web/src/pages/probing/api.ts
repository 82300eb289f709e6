// The gateway's patching, probing and ablation shapes (gateway/src/routes/infer.ts: PatchRequest,
// PatchResult, ProbeRequest, ProbeResult, AblateRequest, AblateResult).
import { type PromptToken, postJSON } from '../../api.ts';

export interface AblateRequest {
  model: string;
  text: string;
  components: { layer: number; head?: number; mlp?: boolean }[];
  mode: 'zero' | 'mean';
}

export interface AblateResult {
  tokens: PromptToken[];
  baseLoss: number[];
  ablatedLoss: number[];
  delta: number[];
  baseMean: number;
  ablatedMean: number;
}

export interface PatchRequest {
  model: string;
  clean: string;
  corrupted: string;
  target: string;
  foil: string;
  streams?: number[];
  positions?: number[];
}

export interface PatchResult {
  cleanTokens: PromptToken[];
  corruptedTokens: PromptToken[];
  targetId: number;
  targetText: string;
  foilId: number;
  foilText: string;
  at: number;
  cleanDiff: number;
  corruptedDiff: number;
  streams: number[];
  positions: number[];
  /** [streams × positions] logit differences. */
  patched: number[];
  /** (patched − corrupted) / (clean − corrupted). */
  restored: number[];
}

export type ProbeLabel = 'next_vowel' | 'vowel';

export interface ProbeRequest {
  model: string;
  text: string;
  label: ProbeLabel;
  seed?: number;
  control?: boolean;
}

export interface ProbeResult {
  tokens: number;
  train: number;
  test: number;
  classes: number;
  baseline: number;
  layers: { stream: number; accuracy: number; trainAccuracy: number; control: number }[];
  classCounts: number[];
}

/** Interventions run many forward passes (a patching sweep, a probe per layer): allow minutes. */
const LONG = { timeoutMs: 300_000 };

export const probingApi = {
  ablate: (body: AblateRequest) => postJSON<AblateResult>('/api/infer/ablate', body, LONG),
  patch: (body: PatchRequest) => postJSON<PatchResult>('/api/infer/patch', body, LONG),
  probe: (body: ProbeRequest) => postJSON<ProbeResult>('/api/infer/probe', body, LONG),
};

/** A token as a label: spaces and newlines made visible. */
export function shown(text: string): string {
  return text.replace(/ /g, '␣').replace(/\n/g, '↵').replace(/\t/g, '⇥') || '∅';
}

/** Stream index as a name: the embeddings, then the stream after each layer. */
export function streamName(stream: number): string {
  return stream === 0 ? 'embed' : `after L${stream - 1}`;
}

/** A colour for x in [0, 1] (white → blue), for tables read as heatmaps. */
export function heat(x: number): string {
  const t = Math.max(0, Math.min(1, x));
  const l = 97 - 52 * t;
  return `hsl(215 80% ${l}%)`;
}

/** A colour for a signed value in [−1, 1] (red below zero, blue above). */
export function diverging(x: number): string {
  const t = Math.max(-1, Math.min(1, x));
  const l = 97 - 45 * Math.abs(t);
  return t >= 0 ? `hsl(215 80% ${l}%)` : `hsl(5 80% ${l}%)`;
}
