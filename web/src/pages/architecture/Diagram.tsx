// The block diagram: embeddings, one transformer block drawn in full with its repeat count, the layer
// stack beside it, and the head. Every label comes from the config, so the drawing follows each edit.
import { For, type JSX, Show } from 'solid-js';
import type { ArchConfig } from './config.ts';

const NORM = { layernorm: 'LayerNorm', rmsnorm: 'RMSNorm' } as const;
const ACT = { gelu: 'GELU', gelu_tanh: 'GELU (tanh)', swiglu: 'SwiGLU', relu: 'ReLU' } as const;

function Box(props: {
  y: number;
  h?: number;
  fill: string;
  testId?: string;
  title: string;
  sub?: string;
  x?: number;
  w?: number;
}) {
  const x = () => props.x ?? 40;
  const w = () => props.w ?? 260;
  const h = () => props.h ?? 34;
  return (
    <g data-testid={props.testId}>
      <rect
        x={x()}
        y={props.y}
        width={w()}
        height={h()}
        rx={6}
        fill={props.fill}
        stroke="#556"
        stroke-width={1}
      />
      <text
        x={x() + w() / 2}
        y={props.y + (props.sub ? 14 : h() / 2 + 4)}
        text-anchor="middle"
        font-size="12"
        font-weight="600"
      >
        {props.title}
      </text>
      <Show when={props.sub}>
        <text
          class="diag-sub"
          x={x() + w() / 2}
          y={props.y + 27}
          text-anchor="middle"
          font-size="10.5"
          fill="#333"
        >
          {props.sub}
        </text>
      </Show>
    </g>
  );
}

function Arrow(props: { y1: number; y2: number; x?: number }): JSX.Element {
  const x = () => props.x ?? 170;
  return (
    <line
      x1={x()}
      y1={props.y1}
      x2={x()}
      y2={props.y2}
      stroke="#556"
      stroke-width={1.2}
      marker-end="url(#arch-arrow)"
    />
  );
}

/** A residual add: the stream passes by on the left and joins the block's output. */
function Add(props: { y: number; from: number }): JSX.Element {
  return (
    <g>
      <path
        d={`M 170 ${props.from} H 22 V ${props.y} H 160`}
        fill="none"
        stroke="#99a"
        stroke-dasharray="3 2"
      />
      <circle cx={170} cy={props.y} r={9} fill="white" stroke="#556" />
      <text x={170} y={props.y + 4} text-anchor="middle" font-size="13">
        +
      </text>
    </g>
  );
}

export function Diagram(props: { cfg: ArchConfig }) {
  const c = () => props.cfg;
  const d = () => c().nEmbd / c().nHead;
  const attnSub = () =>
    `${c().nHead} heads × ${Number.isInteger(d()) ? d() : d().toFixed(1)} · ${c().nKvHead === c().nHead ? 'multi-head' : `${c().nKvHead} KV heads (GQA)`}${c().positions === 'rope' ? ' · RoPE' : ''}`;
  const mlpSub = () =>
    `${c().nEmbd} → ${c().ffnHidden}${c().activation === 'swiglu' ? ' (×2: gate, up)' : ''} → ${c().nEmbd} · ${ACT[c().activation]}`;
  const posLabel = () =>
    ({
      learned: `+ learned positions (${c().context} × ${c().nEmbd})`,
      sinusoidal: '+ sinusoidal positions (fixed)',
      rope: 'positions: rotated into q and k (RoPE)',
      none: 'no position information',
    })[c().positions];
  // Layout (y, top-down).
  const blockTop = 118;
  const blockH = 244;
  const after = blockTop + blockH + 14;
  /** The layer stack beside the block: one bar per layer, capped so 96 layers still fit. */
  const bars = () => Math.min(c().nLayer, 96);
  const barH = () => Math.max(1.5, Math.min(12, (blockH - 8) / bars() - 1));
  return (
    <svg
      data-testid="arch-diagram"
      data-layers={c().nLayer}
      viewBox="0 0 400 520"
      width="400"
      height="520"
      role="img"
      aria-label="Block diagram of the configured model"
      style={{
        'max-width': '100%',
        height: 'auto',
        background: '#fbfbfd',
        border: '1px solid #e3e4ea',
        'border-radius': '8px',
      }}
    >
      <defs>
        <marker
          id="arch-arrow"
          viewBox="0 0 8 8"
          refX="7"
          refY="4"
          markerWidth="7"
          markerHeight="7"
          orient="auto"
        >
          <path d="M0,0 L8,4 L0,8 z" fill="#556" />
        </marker>
      </defs>
      <text x={170} y={16} text-anchor="middle" font-size="11" fill="#555">
        tokens (up to {c().context})
      </text>
      <Arrow y1={20} y2={32} />
      <Box
        y={34}
        fill="#e8f0fe"
        testId="diag-embed"
        title={`Token embedding ${c().vocabSize} × ${c().nEmbd}`}
        sub={posLabel()}
      />
      <Arrow y1={70} y2={blockTop - 2} />
      <rect
        x={10}
        y={blockTop - 6}
        width={300}
        height={blockH}
        rx={10}
        fill="none"
        stroke="#889"
        stroke-dasharray="5 3"
      />
      <text
        data-testid="diag-repeat"
        x={300}
        y={blockTop + 8}
        text-anchor="end"
        font-size="12"
        font-weight="700"
        fill="#446"
      >
        × {c().nLayer}
      </text>
      <Box y={blockTop + 14} h={24} fill="#f4f4f6" testId="diag-norm" title={NORM[c().norm]} />
      <Arrow y1={blockTop + 38} y2={blockTop + 48} />
      <Box
        y={blockTop + 50}
        fill="#fde7d9"
        testId="diag-attn"
        title="Causal self-attention"
        sub={attnSub()}
      />
      <Arrow y1={blockTop + 84} y2={blockTop + 96} />
      <Add y={blockTop + 106} from={blockTop + 2} />
      <Arrow y1={blockTop + 115} y2={blockTop + 124} />
      <Box y={blockTop + 126} h={24} fill="#f4f4f6" title={NORM[c().norm]} />
      <Arrow y1={blockTop + 150} y2={blockTop + 160} />
      <Box y={blockTop + 162} fill="#e3f5e1" testId="diag-mlp" title="MLP" sub={mlpSub()} />
      <Arrow y1={blockTop + 196} y2={blockTop + 208} />
      <Add y={blockTop + 218} from={blockTop + 115} />
      <Arrow y1={blockTop + blockH - 6} y2={after} />
      <Box y={after + 2} h={24} fill="#f4f4f6" title={`Final ${NORM[c().norm]}`} />
      <Arrow y1={after + 26} y2={after + 36} />
      <Box
        y={after + 38}
        fill="#ece4fb"
        testId="diag-head"
        title={`Unembedding ${c().nEmbd} × ${c().vocabSize}`}
        sub={c().tieEmbeddings ? 'tied: the token embedding, transposed' : 'its own weights (untied)'}
      />
      <Arrow y1={after + 72} y2={after + 84} />
      <text x={170} y={after + 96} text-anchor="middle" font-size="11" fill="#555">
        softmax → next-token probabilities
      </text>
      <g data-testid="diag-stack">
        <text x={355} y={blockTop - 10} text-anchor="middle" font-size="10" fill="#555">
          layers
        </text>
        <For each={Array.from({ length: bars() }, (_, i) => i)}>
          {(i) => (
            <rect
              class="diag-layer"
              x={330}
              y={blockTop + i * (barH() + 1)}
              width={50}
              height={barH()}
              fill="#9fb3d9"
            />
          )}
        </For>
        <Show when={c().nLayer > bars()}>
          <text x={355} y={blockTop + blockH} text-anchor="middle" font-size="10">
            … {c().nLayer}
          </text>
        </Show>
      </g>
    </svg>
  );
}
