// Attention: trace a prompt through a model and see every head's pattern, scored against the patterns
// heads are known to learn; one click runs the induction test (random tokens repeated twice).
import { createResource, createSignal, Show } from 'solid-js';
import {
  errorText,
  inferApi,
  postJSON,
  type TraceRequest,
  type TraceResponse,
  type TraceSummary,
} from '../api.ts';
import { ATTENTION_RESPONSE, HeadGrid } from './attention/HeadGrid.tsx';
import { HeadView } from './attention/HeadView.tsx';
import { headWeights } from './attention/heatmap.ts';
import { type AttentionLayer, attentionLayer } from './attention/weights.ts';
import { modelFromHash, resolveModel } from './playground/hooks.ts';
import { ModelSelect } from './playground/ModelPicker.tsx';

const DEFAULT_PROMPT = 'The cat sat on the mat. The cat sat on the';
/** Random tokens in the induction demo (then repeated), capped by the model's context. */
const INDUCTION_TOKENS = 24;

export default function AttentionPage() {
  const [models] = createResource(() => inferApi.models().then((r) => r.models));
  const [chosen, setChosen] = createSignal('');
  // A checkpoint's "Open in Attention" link names its model (`#/attention?model=job@300`).
  const linked = modelFromHash();
  const model = () =>
    chosen() || (linked && resolveModel(models() ?? [], linked)?.name) || models()?.[0]?.name || '';
  const [prompt, setPrompt] = createSignal(DEFAULT_PROMPT);
  const [trace, setTrace] = createSignal<{ summary: TraceSummary; attention: AttentionLayer[] }>();
  const [kind, setKind] = createSignal<'prompt' | 'induction'>('prompt');
  const [error, setError] = createSignal<string>();
  const [busy, setBusy] = createSignal(false);
  const [open, setOpen] = createSignal<{ layer: number; head: number }>();
  let seed = 1;

  const run = async (
    body: Omit<TraceRequest, 'model' | 'encoding' | 'lens'>,
    what: 'prompt' | 'induction',
  ) => {
    if (!model()) return;
    setBusy(true);
    setError(undefined);
    try {
      const res = await postJSON<TraceResponse>(
        '/api/infer/trace',
        // The page shows no logit lens: skipping it saves most of the trace's time.
        { model: model(), ...body, encoding: 'base64', lens: false },
        { timeoutMs: 120_000 },
      );
      // The grid marks ATTENTION_DRAWN when its last canvas is drawn (web/bench/attention.bench.ts).
      performance.mark(ATTENTION_RESPONSE);
      setTrace({ summary: res.summary, attention: res.attention.map(attentionLayer) });
      setKind(what);
      setOpen(undefined);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  const induction = () => {
    const context = models()?.find((m) => m.name === model())?.context ?? 2 * INDUCTION_TOKENS;
    void run(
      { randomRepeat: Math.min(INDUCTION_TOKENS, Math.floor(context / 2)), seed: seed++ },
      'induction',
    );
  };
  const opened = () => {
    const t = trace();
    const o = open();
    if (!t || !o) return undefined;
    const layer = t.attention.find((a) => a.layer === o.layer);
    if (!layer) return undefined;
    return {
      ...o,
      weights: headWeights(layer.weights, o.head, layer.tokens),
      score: t.summary.scores.find((s) => s.layer === o.layer && s.head === o.head)!,
    };
  };

  return (
    <div class="attention-page">
      <div class="card">
        <div
          class="card-head"
          style={{ display: 'flex', gap: '8px', 'align-items': 'center', 'flex-wrap': 'wrap' }}
        >
          <ModelSelect models={models() ?? []} value={model()} onChange={setChosen} testId="attn-model" />
          <button
            type="button"
            class="btn"
            data-testid="attn-induction"
            disabled={busy() || !model()}
            onClick={induction}
            title="Random tokens, then the same tokens again: only a head that copies from the first half can predict the second"
          >
            Induction demo
          </button>
        </div>
        <textarea
          data-testid="attn-prompt"
          rows={3}
          style={{ width: '100%', 'box-sizing': 'border-box', 'margin-top': '8px' }}
          value={prompt()}
          onInput={(e) => setPrompt(e.currentTarget.value)}
        />
        <div style={{ display: 'flex', gap: '8px', 'align-items': 'center', 'margin-top': '6px' }}>
          <button
            type="button"
            class="btn primary"
            data-testid="attn-run"
            disabled={busy() || !model()}
            onClick={() => void run({ text: prompt() }, 'prompt')}
          >
            {busy() ? 'Tracing…' : 'Show attention'}
          </button>
          <span class="small muted">
            Scores per head: <strong>P</strong>revious token, <strong>F</strong>irst token (an “attention
            sink”), <strong>D</strong>uplicate token (earlier copies of itself), <strong>I</strong>nduction
            (the token after an earlier copy of itself). 1 means the head does only that; — means the text has
            no repeats to measure it on.
          </span>
        </div>
        <Show when={error()}>
          <div class="banner error small" role="alert" data-testid="attn-error">
            {error()}
          </div>
        </Show>
      </div>
      <Show when={trace()}>
        {(t) => (
          <>
            <div class="card" data-testid="attn-result" data-kind={kind()}>
              <div class="small muted" style={{ 'margin-bottom': '6px' }}>
                <Show
                  when={kind() === 'induction'}
                  fallback={
                    <>
                      {t().summary.tokens.length} tokens · mean loss {t().summary.meanLoss.toFixed(3)} nats
                    </>
                  }
                >
                  {t().summary.tokens.length / 2} random tokens, then the same again. An induction head shows
                  a diagonal stripe in the lower half, {t().summary.tokens.length / 2 - 1} cells left of the
                  main diagonal: each token of the second half looks at the token that followed its first
                  occurrence, which is how a model continues a sequence it has seen before. Mean loss{' '}
                  {t().summary.meanLoss.toFixed(3)} nats.
                </Show>
              </div>
              <HeadGrid
                summary={t().summary}
                attention={t().attention}
                selected={open()}
                onOpen={(layer, head) => setOpen({ layer, head })}
              />
            </div>
            <Show when={opened()}>
              {(o) => (
                <HeadView
                  layer={o().layer}
                  head={o().head}
                  tokens={t().summary.tokens}
                  weights={o().weights}
                  score={o().score}
                  onClose={() => setOpen(undefined)}
                />
              )}
            </Show>
          </>
        )}
      </Show>
    </div>
  );
}
