// Probing: what the residual stream holds, layer by layer — the logit lens, the stream's size and what
// each block adds, knocking heads out, patching activations between two prompts, and linear probes.
import { createResource, createSignal, type JSX, Show } from 'solid-js';
import { errorText, inferApi, postJSON, type TraceResponse } from '../api.ts';
import { ModelSelect } from './playground/ModelPicker.tsx';
import { Ablation } from './probing/Ablation.tsx';
import { LensTable } from './probing/LensTable.tsx';
import { NormCharts } from './probing/NormCharts.tsx';
import { Patching } from './probing/Patching.tsx';
import { Probes } from './probing/Probes.tsx';

const DEFAULT_TEXT = 'The cat sat on the mat. The cat sat on the';

function Section(props: { title: string; testId: string; intro: JSX.Element; children: JSX.Element }) {
  return (
    <div class="card" data-testid={props.testId}>
      <div class="card-head">
        <strong>{props.title}</strong>
      </div>
      <p class="small muted" style={{ 'margin-top': '0' }}>
        {props.intro}
      </p>
      {props.children}
    </div>
  );
}

export default function ProbingPage() {
  const [models] = createResource(() => inferApi.models().then((r) => r.models));
  const [chosen, setChosen] = createSignal('');
  const model = () => chosen() || models()?.[0]?.name || '';
  const [text, setText] = createSignal(DEFAULT_TEXT);
  const [trace, setTrace] = createSignal<TraceResponse>();
  const [traced, setTraced] = createSignal('');
  const [error, setError] = createSignal<string>();
  const [busy, setBusy] = createSignal(false);

  const run = async () => {
    if (!model()) return;
    setBusy(true);
    setError(undefined);
    try {
      // The summary has the lens and the norms; this page draws no attention maps.
      const res = await postJSON<TraceResponse>(
        '/api/infer/trace',
        { model: model(), text: text(), topK: 3, attention: false },
        { timeoutMs: 120_000 },
      );
      setTrace(res);
      setTraced(text());
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="probing-page">
      <div class="card">
        <div class="card-head" style={{ display: 'flex', gap: '8px', 'align-items': 'center' }}>
          <ModelSelect models={models() ?? []} value={model()} onChange={setChosen} testId="probe-model" />
        </div>
        <textarea
          data-testid="probe-prompt"
          rows={2}
          style={{ width: '100%', 'box-sizing': 'border-box', 'margin-top': '8px' }}
          value={text()}
          onInput={(e) => setText(e.currentTarget.value)}
        />
        <button
          type="button"
          class="btn primary"
          data-testid="probe-trace"
          disabled={busy() || !model()}
          onClick={() => void run()}
          style={{ 'margin-top': '6px' }}
        >
          {busy() ? 'Tracing…' : 'Look inside'}
        </button>
        <Show when={error()}>
          <div class="banner error small" role="alert" data-testid="probe-trace-error">
            {error()}
          </div>
        </Show>
      </div>
      <Show when={trace()}>
        {(t) => (
          <>
            <Section
              title="Logit lens"
              testId="lens"
              intro={
                <>
                  The model's final norm and unembedding, applied to the residual stream after every layer
                  instead of only the last: what the model would predict if it stopped there. Read a column
                  bottom-up to watch a prediction form; a green outline marks the token that actually comes
                  next.
                </>
              }
            >
              <LensTable summary={t().summary} />
            </Section>
            <Section
              title="Residual stream"
              testId="norms"
              intro={
                <>
                  Every layer adds its attention output and its MLP output to the stream it reads. The
                  stream's length (L2 norm) shows how it grows, and the sizes of the two additions show which
                  part of each layer does the writing.
                </>
              }
            >
              <NormCharts summary={t().summary} />
            </Section>
            <Section
              title="Ablation"
              testId="ablation-card"
              intro={
                <>
                  Remove a head's or an MLP's output and run the text again: the tokens whose loss rises are
                  the ones that component helped to predict. Mean ablation replaces the output by its average
                  instead of zero, which removes what depends on the token but keeps the constant part later
                  layers expect.
                </>
              }
            >
              <Ablation
                model={t().summary.model}
                text={traced()}
                layers={t().summary.layers}
                heads={t().summary.heads}
              />
            </Section>
          </>
        )}
      </Show>
      <Show when={model()}>
        <Section
          title="Activation patching"
          testId="patching-card"
          intro={
            <>
              Run a clean prompt and a corrupted one that differs in a token, then run the corrupted prompt
              again with one residual vector (one layer, one position) copied from the clean run. Where that
              single vector brings back the clean answer, measured as the logit difference of two tokens, is
              where the model carries the information that differs.
            </>
          }
        >
          <Patching model={model()} />
        </Section>
        <Section
          title="Linear probes"
          testId="probes-card"
          intro={
            <>
              A linear probe is a logistic-regression classifier trained to read a property of each token (or
              each document of a dataset, by a label field of its records) off the residual stream at one
              layer. High held-out accuracy means the layer represents the property along a direction; the
              control (the same probe on shuffled labels) shows how much a probe could fake.
            </>
          }
        >
          <Probes model={model()} />
        </Section>
      </Show>
    </div>
  );
}
