// One head large: the pattern with the tokens along both axes (queries down, keys across) and, under the
// pointer, which token looks at which and with what weight.
import { createEffect, createSignal, For, Show } from 'solid-js';
import type { HeadScore, PromptToken } from '../../api.ts';
import { cellAt, drawPattern, largeCell } from './heatmap.ts';

/** A token as a label: whitespace made visible, long ones cut. */
export function tokenLabel(text: string): string {
  const shown = text.replace(/ /g, '␣').replace(/\n/g, '↵').replace(/\t/g, '⇥');
  return shown.length > 12 ? `${shown.slice(0, 11)}…` : shown || '∅';
}

export function HeadView(props: {
  layer: number;
  head: number;
  tokens: PromptToken[];
  /** [T, T]. */
  weights: Float32Array;
  score: HeadScore;
  onClose: () => void;
}) {
  let canvas!: HTMLCanvasElement;
  const T = () => props.tokens.length;
  const cell = () => largeCell(T());
  const [hover, setHover] = createSignal<{ q: number; k: number }>();
  createEffect(() => drawPattern(canvas, props.weights, T(), cell()));
  const move = (e: MouseEvent) => setHover(cellAt(e.offsetX, e.offsetY, T(), cell()));
  const label = (i: number) => tokenLabel(props.tokens[i]?.text ?? '');
  const labelWidth = 84;
  return (
    <div
      class="card"
      data-testid="attn-large"
      data-layer={props.layer}
      data-head={props.head}
      data-tokens={T()}
    >
      <div
        class="card-head"
        style={{ display: 'flex', 'justify-content': 'space-between', 'align-items': 'center' }}
      >
        <strong>
          Layer {props.layer}, head {props.head}
        </strong>
        <span class="small muted">
          previous {props.score.previous.toFixed(2)} · first {props.score.first.toFixed(2)} · duplicate{' '}
          {props.score.duplicate.toFixed(2)} · induction {props.score.induction.toFixed(2)}
        </span>
        <button type="button" class="btn small" data-testid="attn-close" onClick={props.onClose}>
          Close
        </button>
      </div>
      <p class="small muted">
        Each row is a token (the query) and shows how it splits its attention over the tokens before it (the
        keys); every row sums to 1 and grey cells are future tokens it cannot see.
      </p>
      <div style={{ display: 'grid', 'grid-template-columns': `${labelWidth}px auto`, 'overflow-x': 'auto' }}>
        <div />
        <div
          data-testid="attn-key-labels"
          style={{ display: 'flex', height: '84px', 'align-items': 'flex-end' }}
        >
          <For each={props.tokens}>
            {(_, i) => (
              <div
                class="attn-key-label"
                style={{
                  width: `${cell()}px`,
                  'writing-mode': 'vertical-rl',
                  transform: 'rotate(180deg)',
                  'font-size': `${Math.min(12, cell())}px`,
                  'white-space': 'nowrap',
                  overflow: 'hidden',
                  'font-weight': hover()?.k === i() ? 'bold' : 'normal',
                }}
              >
                {label(i())}
              </div>
            )}
          </For>
        </div>
        <div data-testid="attn-query-labels">
          <For each={props.tokens}>
            {(_, i) => (
              <div
                class="attn-query-label"
                style={{
                  height: `${cell()}px`,
                  'line-height': `${cell()}px`,
                  'font-size': `${Math.min(12, cell())}px`,
                  'text-align': 'right',
                  'padding-right': '4px',
                  'white-space': 'nowrap',
                  overflow: 'hidden',
                  'font-weight': hover()?.q === i() ? 'bold' : 'normal',
                }}
              >
                {label(i())}
              </div>
            )}
          </For>
        </div>
        <canvas
          ref={canvas}
          data-testid="attn-large-canvas"
          data-cell={cell()}
          onMouseMove={move}
          onMouseLeave={() => setHover(undefined)}
          style={{ cursor: 'crosshair', display: 'block' }}
        />
      </div>
      <div class="small" data-testid="attn-hover" style={{ 'min-height': '1.5em', 'margin-top': '6px' }}>
        <Show when={hover()} fallback={<span class="muted">Point at a cell to read its weight.</span>}>
          {(h) => {
            const w = () => props.weights[h().q * T() + h().k]!;
            return (
              <span data-q={h().q} data-k={h().k} data-value={h().k > h().q ? '' : String(w())}>
                “{label(h().q)}” (#{h().q}) → “{label(h().k)}” (#{h().k}):{' '}
                <strong>{h().k > h().q ? 'future token, not visible' : w().toFixed(4)}</strong>
              </span>
            );
          }}
        </Show>
      </div>
    </div>
  );
}
