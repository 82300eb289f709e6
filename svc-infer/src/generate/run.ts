// The generation loop: prefill the prompt once, then for each sample draw tokens from the sampler chain
// over a KV cache, stream each token's text (held back while it could begin a stop string), and end on
// end-of-sequence, a stop string, max tokens, the context, or the caller going away.
import type { BeamNode, BeamResult, GenerateEvent, SamplingParams, TokenEvent } from '@lab/proto/infer';
import { StreamingDecoder } from '@lab/tokenizer';
import type { LoadedModel } from '../models/pool.ts';
import { StopMatcher } from '../sampling/stop.ts';
import { runBeamSearch } from './beams.ts';
import { drawSeed, samplerFor } from './choose.ts';
import { logSumExp } from './logprobs.ts';
import { type Prepared, tokenBytes, tokenText } from './prepare.ts';

export interface RunOptions {
  signal: AbortSignal;
  /** Called once per finished sample (metrics, conversation storage). */
  onDone?: (e: { sample: number; finishReason: string; text: string; completionTokens: number }) => void;
}

export async function* runGeneration(
  model: LoadedModel,
  prep: Prepared,
  params: SamplingParams | undefined,
  opts: RunOptions,
): AsyncGenerator<GenerateEvent> {
  const t0 = performance.now();
  const { signal } = opts;
  const preflight = { ...prep.preflight, tokens: prep.preflight.tokens.map((t) => ({ ...t })) };
  if (!params?.echo) yield { event: { $case: 'preflight', value: preflight } };
  // Prefill once: every sample (and beam) continues from this snapshot. With echo, the same pass gives
  // each prompt token's log-probability given those before it, chunk by chunk (bounded memory).
  const V = model.info.cfg.vocabSize;
  const prefill = await model.lm.run(
    prep.ids,
    undefined,
    params?.echo
      ? {
          onLogits: (rows, first) => {
            for (let r = 0; first + r + 1 < prep.ids.length && (r + 1) * V <= rows.length; r++) {
              const row = rows.subarray(r * V, (r + 1) * V);
              preflight.tokens[first + r + 1]!.logprob = row[prep.ids[first + r + 1]!]! - logSumExp(row);
            }
          },
        }
      : {},
  );
  if (params?.echo) yield { event: { $case: 'preflight', value: preflight } };
  if (signal.aborted) return;

  const ctx = model.info.cfg.blockSize;
  // Beam search stays inside the context; sampling slides past it (below).
  const beamMax = Math.max(1, Math.min(prep.maxTokens, ctx - prep.ids.length));
  const stopAtEos = params?.stopAtEos ?? true;
  const base = {
    promptTokens: prep.ids.length,
    stop: '',
    beams: [] as BeamResult[],
    tree: [] as BeamNode[],
    conversationId: '',
  };

  if ((params?.numBeams ?? 0) > 1) {
    const r = await runBeamSearch(model, params!, prefill, beamMax, stopAtEos, signal);
    const firstTokenMs = performance.now() - t0;
    const best = r.beams[0];
    const text = best?.text ?? '';
    opts.onDone?.({
      sample: 0,
      finishReason: r.cancelled ? 'cancelled' : (best?.finishReason ?? 'length'),
      text,
      completionTokens: best?.ids.length ?? 0,
    });
    if (r.cancelled) return;
    yield {
      event: {
        $case: 'done',
        value: {
          ...base,
          sample: 0,
          finishReason: best?.finishReason ?? 'length',
          text,
          completionTokens: best?.ids.length ?? 0,
          firstTokenMs,
          tokensPerSecond: r.expanded / Math.max(1e-9, (performance.now() - t0) / 1000),
          beams: r.beams,
          tree: r.tree,
        },
      },
    };
    return;
  }

  const n = Math.max(1, params?.n ?? 1);
  const seed = params?.seed ?? drawSeed();
  for (let sample = 0; sample < n; sample++) {
    const sampler = samplerFor(params, seed, V, sample);
    const decoder = new StreamingDecoder(model.tokenizer);
    const stop = new StopMatcher(prep.stops);
    const generated: number[] = [];
    let text = '';
    let logits = prefill.logits;
    let into: Float32Array | undefined;
    let cache = prefill.cache;
    let finishReason = 'length';
    let stopString = '';
    let firstTokenMs = 0;
    let decodeStart = 0;
    for (let i = 0; i < prep.maxTokens; i++) {
      if (signal.aborted) {
        finishReason = 'cancelled';
        break;
      }
      const c = sampler.sample(logits, { prompt: prep.ids, generated }, { trace: params?.trace });
      const isEos = stopAtEos && model.eosIds.has(c.id);
      if (isEos) {
        finishReason = 'stop';
        break;
      }
      generated.push(c.id);
      // Specials and ids without text add nothing to the text (Hugging Face's skip_special_tokens).
      const delta = tokenBytes(model, c.id) ? decoder.push(c.id) : '';
      const s = stop.push(delta);
      text += s.text;
      if (i === 0) {
        firstTokenMs = performance.now() - t0;
        decodeStart = performance.now();
      }
      const token: TokenEvent = {
        sample,
        index: i,
        id: c.id,
        token: tokenText(model, c.id),
        text: s.text,
        logprob: c.logprob,
        top: c.topLogprobs.map((t) => ({ id: t.id, text: tokenText(model, t.id), logprob: t.logprob })),
        stages: (c.trace ?? []).map((st) => ({
          name: st.name,
          allowed: st.allowed,
          top: st.top.map((t) => ({ id: t.id, text: tokenText(model, t.id), logprob: t.prob })),
        })),
      };
      yield { event: { $case: 'token', value: token } };
      // The consumer may have gone while this token was out: don't start another forward pass for it.
      if (signal.aborted) {
        finishReason = 'cancelled';
        break;
      }
      if (s.stopped !== undefined) {
        finishReason = 'stop';
        stopString = s.stopped;
        break;
      }
      if (i === prep.maxTokens - 1) break;
      // A full context restarts the cache on the last half of the text, as nanoGPT's sampling crops it:
      // a small model keeps talking instead of stopping at its context.
      // The sampler is done with this token's logits (it copies what it keeps): the next run reuses them.
      into ??= new Float32Array(logits.length);
      const r =
        cache.length + 1 > ctx
          ? await model.lm.run([...prep.ids, ...generated].slice(-Math.floor(ctx / 2)), undefined, { into })
          : await model.lm.run([c.id], cache, { into });
      logits = r.logits;
      cache = r.cache;
    }
    if (finishReason !== 'cancelled' && !stopString) {
      const rest = stop.push(decoder.flush()).text + stop.flush();
      if (rest) {
        text += rest;
        yield {
          event: {
            $case: 'token',
            value: {
              sample,
              index: generated.length,
              id: 0,
              token: '',
              text: rest,
              logprob: 0,
              top: [],
              stages: [],
            },
          },
        };
      }
    }
    const completionTokens = generated.length;
    opts.onDone?.({ sample, finishReason, text, completionTokens });
    if (finishReason === 'cancelled') return;
    const decodeSeconds = (performance.now() - decodeStart) / 1000;
    yield {
      event: {
        $case: 'done',
        value: {
          ...base,
          sample,
          finishReason,
          text,
          stop: stopString,
          completionTokens,
          firstTokenMs,
          tokensPerSecond:
            completionTokens > 1 && decodeSeconds > 0 ? (completionTokens - 1) / decodeSeconds : 0,
        },
      },
    };
  }
}
