// Activation patching: the clean run's residual stream copied into the corrupted run, one layer and
// position at a time; the cells that bring back the clean answer show where the difference is carried.
import { createSignal, For, Show } from 'solid-js';
import { errorText } from '../../api.ts';
import { diverging, divergingInk, type PatchResult, probingApi, shown, streamName } from './api.ts';

export function Patching(props: { model: string }) {
  const [clean, setClean] = createSignal('When Mary and John went to the store, John gave a drink to');
  const [corrupted, setCorrupted] = createSignal(
    'When Mary and John went to the store, Mary gave a drink to',
  );
  const [target, setTarget] = createSignal(' Mary');
  const [foil, setFoil] = createSignal(' John');
  const [result, setResult] = createSignal<PatchResult>();
  const [error, setError] = createSignal<string>();
  const [busy, setBusy] = createSignal(false);
  const run = async () => {
    setBusy(true);
    setError(undefined);
    try {
      setResult(
        await probingApi.patch({
          model: props.model,
          clean: clean(),
          corrupted: corrupted(),
          target: target(),
          foil: foil(),
        }),
      );
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  const field = (label: string, value: () => string, set: (v: string) => void, id: string, wide = true) => (
    <label
      class="small"
      style={{ display: 'flex', 'flex-direction': 'column', flex: wide ? '1 1 320px' : '0 0 120px' }}
    >
      {label}
      <input data-testid={id} value={value()} onInput={(e) => set(e.currentTarget.value)} class="mono" />
    </label>
  );
  return (
    <div data-testid="patching">
      <div style={{ display: 'flex', gap: '8px', 'flex-wrap': 'wrap', 'align-items': 'flex-end' }}>
        {field('Clean prompt', clean, setClean, 'patch-clean')}
        {field('Corrupted prompt (same number of tokens)', corrupted, setCorrupted, 'patch-corrupted')}
        {field('Target token', target, setTarget, 'patch-target', false)}
        {field('Foil token', foil, setFoil, 'patch-foil', false)}
        <button
          type="button"
          class="btn primary"
          data-testid="patch-run"
          disabled={busy() || !props.model}
          onClick={() => void run()}
        >
          {busy() ? 'Patching…' : 'Patch every layer × position'}
        </button>
      </div>
      <Show when={error()}>
        <div class="banner error small" role="alert" data-testid="patch-error">
          {error()}
        </div>
      </Show>
      <Show when={result()}>
        {(r) => {
          const P = () => r().positions.length;
          return (
            <div style={{ 'margin-top': '8px' }}>
              <div class="small" data-testid="patch-summary">
                Logit difference “{shown(r().targetText)}” − “{shown(r().foilText)}” at the last position:
                clean <strong data-testid="patch-clean-diff">{r().cleanDiff.toFixed(3)}</strong>, corrupted{' '}
                <strong data-testid="patch-corrupted-diff">{r().corruptedDiff.toFixed(3)}</strong>. Each cell
                is the share of that gap a single patched vector restores (1 = all of it).
              </div>
              <div class="table-scroll" style={{ 'max-height': 'none' }}>
                <table
                  class="small mono"
                  data-testid="patch-grid"
                  data-streams={r().streams.length}
                  data-positions={P()}
                  style={{ 'border-collapse': 'collapse', 'margin-top': '6px' }}
                >
                  <thead>
                    <tr>
                      <th />
                      <For each={r().positions}>
                        {(p) => (
                          <th style={{ 'font-weight': 'normal' }}>
                            {shown(r().corruptedTokens[p]!.text)}
                            <Show when={r().cleanTokens[p]!.id !== r().corruptedTokens[p]!.id}>
                              <div style={{ color: '#2a7' }}>{shown(r().cleanTokens[p]!.text)}</div>
                            </Show>
                          </th>
                        )}
                      </For>
                    </tr>
                  </thead>
                  <tbody>
                    <For each={[...r().streams.keys()].reverse()}>
                      {(si) => (
                        <tr>
                          <th
                            style={{
                              'text-align': 'right',
                              'font-weight': 'normal',
                              'white-space': 'nowrap',
                            }}
                          >
                            {streamName(r().streams[si]!)}
                          </th>
                          <For each={r().positions}>
                            {(p, pi) => {
                              const v = () => r().restored[si * P() + pi()]!;
                              return (
                                <td
                                  data-testid="patch-cell"
                                  data-stream={r().streams[si]}
                                  data-pos={p}
                                  data-value={v()}
                                  title={`logit difference ${r().patched[si * P() + pi()]!.toFixed(4)}`}
                                  style={{
                                    background: diverging(v()),
                                    color: divergingInk(v()),
                                    padding: '2px 5px',
                                    'text-align': 'center',
                                  }}
                                >
                                  {v().toFixed(2)}
                                </td>
                              );
                            }}
                          </For>
                        </tr>
                      )}
                    </For>
                  </tbody>
                </table>
              </div>
            </div>
          );
        }}
      </Show>
    </div>
  );
}
