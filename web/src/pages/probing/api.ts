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

/** Lightness (%) of heat(x): 97 at 0, 45 at 1. */
const heatLightness = (x: number) => 97 - 52 * Math.max(0, Math.min(1, x));

/** Lightness (%) of diverging(x): 97 at 0, 52 at ±1. */
const divergingLightness = (x: number) => 97 - 45 * Math.min(1, Math.abs(x));

/**
 * Below this lightness of these blues and reds, white text has more contrast than the page's dark text
 * (WCAG contrast ratios cross at ~56%).
 */
const WHITE_TEXT_BELOW = 56;

/** A colour for x in [0, 1] (white → blue), for tables read as heatmaps. */
export function heat(x: number): string {
  return `hsl(215 80% ${heatLightness(x)}%)`;
}

/** The text colour on heat(x): white on the darker cells, else the page's. */
export function heatInk(x: number): string | undefined {
  return heatLightness(x) < WHITE_TEXT_BELOW ? '#fff' : undefined;
}

/** A colour for a signed value in [−1, 1] (red below zero, blue above). */
export function diverging(x: number): string {
  const l = divergingLightness(x);
  return x >= 0 ? `hsl(215 80% ${l}%)` : `hsl(5 80% ${l}%)`;
}

/** The text colour on diverging(x): white on the darker cells, else the page's. */
export function divergingInk(x: number): string | undefined {
  return divergingLightness(x) < WHITE_TEXT_BELOW ? '#fff' : undefined;
}
