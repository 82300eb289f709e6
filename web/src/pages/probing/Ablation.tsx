// Knock heads or MLPs out and see which tokens get harder to predict: a head whose removal raises the loss
// on the second copy of a repeated phrase is doing the copying.
import { createSignal, For, Index, Show } from 'solid-js';
import { errorText } from '../../api.ts';
import { type AblateResult, diverging, divergingInk, probingApi, shown } from './api.ts';

/** A component key: "l.h" for a head, "l.mlp" for an MLP. */
const key = (layer: number, head?: number) => (head === undefined ? `${layer}.mlp` : `${layer}.${head}`);

export function Ablation(props: { model: string; text: string; layers: number; heads: number }) {
  const [picked, setPicked] = createSignal<ReadonlySet<string>>(new Set());
  const [mode, setMode] = createSignal<'zero' | 'mean'>('zero');
  const [result, setResult] = createSignal<AblateResult>();
  const [error, setError] = createSignal<string>();
  const [busy, setBusy] = createSignal(false);
  const toggle = (k: string) => {
    const next = new Set(picked());
    if (!next.delete(k)) next.add(k);
    setPicked(next);
  };
  const run = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const components = [...picked()].map((k) => {
        const [l, h] = k.split('.');
        return h === 'mlp' ? { layer: Number(l), mlp: true } : { layer: Number(l), head: Number(h) };
      });
      setResult(await probingApi.ablate({ model: props.model, text: props.text, components, mode: mode() }));
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  /** The largest |delta|, for the colour scale. */
  const scale = () => Math.max(1e-6, ...(result()?.delta.map(Math.abs) ?? [0]));
  return (
    <div data-testid="ablation">
      <div style={{ display: 'flex', gap: '16px', 'flex-wrap': 'wrap', 'align-items': 'flex-start' }}>
        <table class="small" data-testid="ablate-grid" style={{ 'border-collapse': 'collapse' }}>
          <thead>
            <tr>
              <th />
              <Index each={Array.from({ length: props.heads })}>{(_, h) => <th>H{h}</th>}</Index>
              <th>MLP</th>
            </tr>
          </thead>
          <tbody>
            <Index each={Array.from({ length: props.layers })}>
              {(_, l) => (
                <tr>
                  <th>L{l}</th>
                  <Index each={[...Array.from({ length: props.heads }, (_, h) => h), undefined]}>
                    {(h) => {
                      const k = () => key(l, h());
                      const on = () => picked().has(k());
                      return (
                        <td>
                          <button
                            type="button"
                            class="btn"
                            data-testid="ablate-toggle"
                            data-layer={l}
                            data-head={h() ?? 'mlp'}
                            aria-pressed={on()}
                            onClick={() => toggle(k())}
                            style={{
                              'min-width': '34px',
                              padding: '2px 6px',
                              background: on() ? '#c33' : undefined,
                              color: on() ? 'white' : undefined,
                            }}
                          >
                            {on() ? '✕' : '·'}
                          </button>
                        </td>
                      );
                    }}
                  </Index>
                </tr>
              )}
            </Index>
          </tbody>
        </table>
        <div style={{ display: 'flex', 'flex-direction': 'column', gap: '6px' }}>
          <label class="small">
            <input
              type="radio"
              name="ablate-mode"
              checked={mode() === 'zero'}
              onChange={() => setMode('zero')}
            />{' '}
            zero: remove the output
          </label>
          <label class="small">
            <input
              type="radio"
              name="ablate-mode"
              data-testid="ablate-mean"
              checked={mode() === 'mean'}
              onChange={() => setMode('mean')}
            />{' '}
            mean: replace it by its average over the text
          </label>
          <button
            type="button"
            class="btn primary"
            data-testid="ablate-run"
            disabled={busy() || !props.model || picked().size === 0}
            onClick={() => void run()}
          >
            {busy() ? 'Running…' : `Knock out ${picked().size || ''}`}
          </button>
        </div>
      </div>
      <Show when={error()}>
        <div class="banner error small" role="alert" data-testid="ablate-error">
          {error()}
        </div>
      </Show>
      <Show when={result()}>
        {(r) => (
          <div data-testid="ablate-result" style={{ 'margin-top': '8px' }}>
            <div class="small">
              Mean loss <span data-testid="ablate-base">{r().baseMean.toFixed(4)}</span> →{' '}
              <span data-testid="ablate-after">{r().ablatedMean.toFixed(4)}</span> nats (
              {r().ablatedMean >= r().baseMean ? '+' : ''}
              {(r().ablatedMean - r().baseMean).toFixed(4)}). Each token below is coloured by how much harder
              it became to predict (red) or easier (blue).
            </div>
            <div style={{ display: 'flex', 'flex-wrap': 'wrap', gap: '2px', 'margin-top': '6px' }}>
              <For each={r().tokens.slice(1)}>
                {(t, i) => (
                  <span
                    class="mono small"
                    data-testid="ablate-token"
                    data-delta={r().delta[i()]}
                    title={`loss ${r().baseLoss[i()]!.toFixed(3)} → ${r().ablatedLoss[i()]!.toFixed(3)} nats`}
                    style={{
                      background: diverging(-(r().delta[i()] ?? 0) / scale()),
                      color: divergingInk((r().delta[i()] ?? 0) / scale()),
                      padding: '1px 3px',
                      'border-radius': '3px',
                    }}
                  >
                    {shown(t.text)}
                    <sub style={{ 'font-size': '9px' }}>
                      {(r().delta[i()]! >= 0 ? '+' : '') + r().delta[i()]!.toFixed(2)}
                    </sub>
                  </span>
                )}
              </For>
            </div>
          </div>
        )}
      </Show>
    </div>
  );
}
