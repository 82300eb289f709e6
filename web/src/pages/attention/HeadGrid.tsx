// The layer × head grid: a small heatmap per head with its pattern scores; a click opens it large.
import { createRenderEffect, For, onMount } from 'solid-js';
import type { HeadScore, TraceSummary } from '../../api.ts';
import { drawPattern, headWeights } from './heatmap.ts';
import type { AttentionLayer } from './weights.ts';

/** Performance marks: a trace response set on the page, then the last of its heads drawn; and between them. */
export const ATTENTION_RESPONSE = 'attention:response';
export const ATTENTION_DRAWN = 'attention:drawn';
export const ATTENTION_DRAW = 'attention:draw';

/** Score shown as two decimals, or a dash where the pattern does not occur in the text. */
function fmt(x: number, measurable = true): string {
  return measurable ? x.toFixed(2) : '—';
}

/** The pattern a head does most, when it does it clearly (≥ 0.4). */
export function dominant(s: HeadScore, summary: TraceSummary): string | undefined {
  const options: [string, number][] = [
    ['previous', s.previous],
    ['first', s.first],
    ...(summary.duplicateRows ? ([['duplicate', s.duplicate]] as [string, number][]) : []),
    ...(summary.inductionRows ? ([['induction', s.induction]] as [string, number][]) : []),
  ];
  const best = options.reduce((a, b) => (b[1] > a[1] ? b : a));
  return best[1] >= 0.4 ? best[0] : undefined;
}

function HeadCell(props: {
  layer: AttentionLayer;
  head: number;
  score: HeadScore;
  summary: TraceSummary;
  selected: boolean;
  onOpen: () => void;
  onDrawn: () => void;
}) {
  let canvas!: HTMLCanvasElement;
  onMount(() => {
    drawPattern(
      canvas,
      headWeights(props.layer.weights, props.head, props.layer.tokens),
      props.layer.tokens,
      1,
    );
    props.onDrawn();
  });
  const s = () => props.score;
  const label = () => dominant(s(), props.summary);
  return (
    <button
      type="button"
      class="attn-cell"
      data-testid="attn-cell"
      data-layer={props.layer.layer}
      data-head={props.head}
      data-pattern={label() ?? ''}
      onClick={props.onOpen}
      title={`Layer ${props.layer.layer}, head ${props.head}: click to open`}
      style={{
        border: `2px solid ${props.selected ? '#1d4ed8' : 'transparent'}`,
        background: 'none',
        padding: '2px',
        cursor: 'pointer',
        'text-align': 'left',
        font: 'inherit',
      }}
    >
      <canvas
        ref={canvas}
        style={{ width: '72px', height: '72px', 'image-rendering': 'pixelated', border: '1px solid #cbd5e1' }}
      />
      <div class="small muted" style={{ 'font-size': '10px', 'line-height': '1.25', width: '76px' }}>
        <div>
          P {fmt(s().previous)} F {fmt(s().first)}
        </div>
        <div>
          D {fmt(s().duplicate, props.summary.duplicateRows > 0)} I{' '}
          {fmt(s().induction, props.summary.inductionRows > 0)}
        </div>
        <div style={{ color: '#1d4ed8', 'min-height': '1.25em' }}>{label() ?? ''}</div>
      </div>
    </button>
  );
}

export function HeadGrid(props: {
  summary: TraceSummary;
  attention: AttentionLayer[];
  selected?: { layer: number; head: number };
  onOpen: (layer: number, head: number) => void;
}) {
  const score = (layer: number, head: number) =>
    props.summary.scores.find((s) => s.layer === layer && s.head === head)!;
  // Heads of the current attention still to draw. A render effect resets it before the new cells' onMount
  // (user effects) run, so the count belongs to one trace.
  let pending = 0;
  createRenderEffect(() => {
    pending = props.attention.reduce((n, l) => n + l.heads, 0);
  });
  const drawn = () => {
    if (--pending !== 0) return;
    performance.mark(ATTENTION_DRAWN);
    if (performance.getEntriesByName(ATTENTION_RESPONSE, 'mark').length)
      performance.measure(ATTENTION_DRAW, ATTENTION_RESPONSE, ATTENTION_DRAWN);
  };
  return (
    <div data-testid="attn-grid" data-layers={props.attention.length} data-heads={props.summary.heads}>
      <For each={props.attention}>
        {(layer) => (
          <div style={{ display: 'flex', 'align-items': 'flex-start', gap: '4px', 'margin-bottom': '4px' }}>
            <div class="small muted" style={{ width: '56px', 'padding-top': '28px' }}>
              layer {layer.layer}
            </div>
            <For each={Array.from({ length: layer.heads }, (_, h) => h)}>
              {(h) => (
                <HeadCell
                  layer={layer}
                  head={h}
                  score={score(layer.layer, h)}
                  summary={props.summary}
                  selected={props.selected?.layer === layer.layer && props.selected?.head === h}
                  onOpen={() => props.onOpen(layer.layer, h)}
                  onDrawn={drawn}
                />
              )}
            </For>
          </div>
        )}
      </For>
    </div>
  );
}
