// The gateway's patching, probing and ablation shapes (gateway/src/routes/infer.ts: PatchRequest,
// PatchResult, ProbeRequest, ProbeResult, AblateRequest, AblateResult).
import { type BodyOf, postJSON, type ResponseOf, type Routes } from '../../api.ts';

type Infer = Routes['infer'];
export type AblateRequest = BodyOf<Infer['ablate']>;
export type AblateResult = ResponseOf<Infer['ablate'], 200>;
export type PatchRequest = BodyOf<Infer['patch']>;
/** `patched` holds [streams × positions] logit differences; `restored` (patched − corrupted) / (clean − corrupted). */
export type PatchResult = ResponseOf<Infer['patch'], 200>;
export type ProbeRequest = BodyOf<Infer['probe']>;
export type ProbeLabel = NonNullable<ProbeRequest['label']>;
export type ProbeResult = ResponseOf<Infer['probe'], 200>;

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
