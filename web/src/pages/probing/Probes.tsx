// Linear probes: a logistic-regression classifier per residual stream, fitted on most tokens of a text (or
// documents of a dataset version, one example each) and scored on the rest, against the majority-class
// baseline and (optionally) shuffled labels.
import { createSignal, For, Show } from 'solid-js';
import { errorText } from '../../api.ts';
import { heat, type ProbeLabel, type ProbeResult, probingApi, streamName } from './api.ts';
import { type DatasetChoice, DatasetSource } from './ProbeDataset.tsx';

const DEFAULT_TEXT =
  'First Citizen: Before we proceed any further, hear me speak. All: Speak, speak. First Citizen: You are ' +
  'all resolved rather to die than to famish? All: Resolved. resolved. First Citizen: First, you know Caius ' +
  'Marcius is chief enemy to the people. All: We know it, we know it. First Citizen: Let us kill him, and ' +
  "we'll have corn at our own price. Is it a verdict? All: No more talking on it; let it be done: away, away!";

export function Probes(props: { model: string }) {
  const [source, setSource] = createSignal<'text' | 'dataset'>('text');
  const [choice, setChoice] = createSignal<DatasetChoice>();
  const [text, setText] = createSignal(DEFAULT_TEXT);
  const [label, setLabel] = createSignal<ProbeLabel>('next_vowel');
  const [control, setControl] = createSignal(true);
  const [result, setResult] = createSignal<ProbeResult>();
  const [error, setError] = createSignal<string>();
  const [busy, setBusy] = createSignal(false);
  const run = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const c = choice();
      setResult(
        await probingApi.probe(
          source() === 'dataset' && c
            ? {
                model: props.model,
                datasetId: c.datasetId,
                datasetVersion: c.version,
                labelField: c.labelField,
                textField: c.textField || undefined,
                pool: c.pool,
                maxDocuments: c.maxDocuments,
                control: control(),
                seed: 0,
              }
            : { model: props.model, text: text(), label: label(), control: control(), seed: 0 },
        ),
      );
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div data-testid="probes">
      <div class="small" style={{ 'margin-bottom': '4px' }}>
        Examples from{' '}
        <select
          data-testid="probe-source"
          value={source()}
          onChange={(e) => setSource(e.currentTarget.value as 'text' | 'dataset')}
        >
          <option value="text">the tokens of a text</option>
          <option value="dataset">the documents of a dataset version</option>
        </select>
      </div>
      <Show
        when={source() === 'dataset'}
        fallback={
          <textarea
            data-testid="probe-text"
            rows={3}
            style={{ width: '100%', 'box-sizing': 'border-box' }}
            value={text()}
            onInput={(e) => setText(e.currentTarget.value)}
          />
        }
      >
        <DatasetSource onChange={setChoice} />
      </Show>
      <div
        style={{
          display: 'flex',
          gap: '12px',
          'align-items': 'center',
          'flex-wrap': 'wrap',
          'margin-top': '4px',
        }}
      >
        <Show when={source() === 'text'}>
          <label class="small">
            Label{' '}
            <select
              data-testid="probe-label"
              value={label()}
              onChange={(e) => setLabel(e.currentTarget.value as ProbeLabel)}
            >
              <option value="next_vowel">the next character is a vowel</option>
              <option value="vowel">this character is a vowel</option>
            </select>
          </label>
        </Show>
        <label class="small">
          <input type="checkbox" checked={control()} onChange={(e) => setControl(e.currentTarget.checked)} />{' '}
          control (same probe on shuffled labels)
        </label>
        <button
          type="button"
          class="btn primary"
          data-testid="probe-run"
          disabled={busy() || !props.model || (source() === 'dataset' && !choice()?.labelField)}
          onClick={() => void run()}
        >
          {busy() ? 'Fitting…' : 'Fit probes'}
        </button>
      </div>
      <Show when={error()}>
        <div class="banner error small" role="alert" data-testid="probe-error">
          {error()}
        </div>
      </Show>
      <Show when={result()}>
        {(r) => (
          <div style={{ 'margin-top': '8px' }}>
            <div class="small" data-testid="probe-summary">
              <Show
                when={r().documents > 0}
                fallback={
                  <>
                    {r().tokens} tokens; probes fitted on {r().train}, scored on {r().test} held out.{' '}
                  </>
                }
              >
                <span
                  data-testid="probe-documents"
                  data-documents={r().documents}
                  data-truncated={r().truncated}
                >
                  {r().documents} documents ({r().tokens} tokens
                  {r().truncated ? `; ${r().truncated} cut to the model’s context` : ''}), each read at{' '}
                  {r().pool === 'mean' ? 'the mean of its tokens' : 'its last token'}; probes fitted on{' '}
                  {r().train}, scored on {r().test} held out.{' '}
                </span>
              </Show>
              Always answering the most common class scores{' '}
              <strong data-testid="probe-baseline">{r().baseline.toFixed(3)}</strong>: a layer represents the
              label linearly where its probe clearly beats that.
            </div>
            <Show when={r().classNames.length}>
              <div class="small" data-testid="probe-classes" style={{ margin: '4px 0' }}>
                Classes:{' '}
                <For each={r().classNames}>
                  {(name, k) => (
                    <span
                      class="mono"
                      data-testid="probe-class"
                      data-name={name}
                      data-count={r().classCounts[k()]}
                      style={{ 'margin-right': '10px' }}
                    >
                      {name} ({r().classCounts[k()]})
                    </span>
                  )}
                </For>
              </div>
            </Show>
            <table class="table small" data-testid="probe-table" style={{ 'max-width': '640px' }}>
              <thead>
                <tr>
                  <th>stream</th>
                  <th>held-out accuracy</th>
                  <th />
                  <th>train</th>
                  <Show when={r().layers.some((l) => l.control > 0)}>
                    <th>control</th>
                  </Show>
                </tr>
              </thead>
              <tbody>
                <For each={r().layers}>
                  {(l) => (
                    <tr
                      data-testid="probe-row"
                      data-stream={l.stream}
                      data-accuracy={l.accuracy}
                      data-control={l.control}
                    >
                      <td>{streamName(l.stream)}</td>
                      <td class="mono">{l.accuracy.toFixed(3)}</td>
                      <td style={{ width: '220px' }}>
                        <div style={{ position: 'relative', height: '12px', background: '#eee' }}>
                          <div
                            style={{
                              width: `${l.accuracy * 100}%`,
                              height: '100%',
                              background: heat(
                                (l.accuracy - r().baseline) / Math.max(1e-6, 1 - r().baseline),
                              ),
                            }}
                          />
                          <div
                            title="baseline"
                            style={{
                              position: 'absolute',
                              top: '-2px',
                              bottom: '-2px',
                              left: `${r().baseline * 100}%`,
                              width: '2px',
                              background: '#333',
                            }}
                          />
                        </div>
                      </td>
                      <td class="mono">{l.trainAccuracy.toFixed(3)}</td>
                      <Show when={r().layers.some((l) => l.control > 0)}>
                        <td class="mono">{l.control.toFixed(3)}</td>
                      </Show>
                    </tr>
                  )}
                </For>
              </tbody>
            </table>
          </div>
        )}
      </Show>
    </div>
  );
}
