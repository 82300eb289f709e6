// A radar (spider) chart in plain SVG: one axis per task, one polygon per model, values already scaled to
// 0..1 (the caller decides how). Raw values show in each point's tooltip.
import { For, Show } from 'solid-js';

export interface RadarSeries {
  label: string;
  color: string;
  /** Per axis, 0..1 (null = no score: the polygon goes through the centre there). */
  values: (number | null)[];
  /** Per axis, the text of the tooltip. */
  titles: string[];
}

// Wider than tall: the labels of the side axes need room.
const W = 480;
const H = 340;
const R = 130;
const CX = W / 2;
const CY = H / 2;
const RINGS = [0.25, 0.5, 0.75, 1];

function point(i: number, n: number, v: number): [number, number] {
  // First axis straight up, then clockwise.
  const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, n);
  return [CX + R * v * Math.cos(a), CY + R * v * Math.sin(a)];
}

export default function Radar(props: { axes: string[]; series: RadarSeries[]; 'data-testid'?: string }) {
  const n = () => props.axes.length;
  const ring = (v: number) =>
    n() >= 3 ? props.axes.map((_, i) => point(i, n(), v).join(',')).join(' ') : undefined;
  return (
    <svg
      class="radar"
      viewBox={`0 0 ${W} ${H}`}
      role="img"
      aria-label={`Radar chart of ${props.series.length} models across ${n()} tasks`}
      data-testid={props['data-testid']}
      data-axes={n()}
      data-series={props.series.length}
    >
      <For each={RINGS}>
        {(v) => (
          <Show when={ring(v)} fallback={<circle class="radar-ring" cx={CX} cy={CY} r={R * v} />}>
            {(pts) => <polygon class="radar-ring" points={pts()} />}
          </Show>
        )}
      </For>
      <For each={props.axes}>
        {(label, i) => {
          const [x, y] = point(i(), n(), 1);
          const [lx, ly] = point(i(), n(), 1.1);
          const anchor = Math.abs(lx - CX) < 8 ? 'middle' : lx > CX ? 'start' : 'end';
          return (
            <>
              <line class="radar-axis" x1={CX} y1={CY} x2={x} y2={y} />
              <text class="radar-label" x={lx} y={ly} text-anchor={anchor} dominant-baseline="middle">
                {label}
              </text>
            </>
          );
        }}
      </For>
      <text class="radar-tick" x={CX + 3} y={CY - R * 0.5 - 2}>
        0.5
      </text>
      <text class="radar-tick" x={CX + 3} y={CY - R - 2}>
        1
      </text>
      <For each={props.series}>
        {(s) => {
          const pts = () => s.values.map((v, i) => point(i, n(), v ?? 0));
          return (
            <g class="radar-series" data-model={s.label}>
              <Show
                when={n() >= 3}
                fallback={
                  <polyline
                    points={[[CX, CY] as [number, number], ...pts()].map((p) => p.join(',')).join(' ')}
                    fill="none"
                    stroke={s.color}
                    stroke-width="2"
                  />
                }
              >
                <polygon
                  points={pts()
                    .map((p) => p.join(','))
                    .join(' ')}
                  fill={s.color}
                  fill-opacity="0.12"
                  stroke={s.color}
                  stroke-width="2"
                />
              </Show>
              <For each={pts()}>
                {(p, i) => (
                  <circle cx={p[0]} cy={p[1]} r="4" fill={s.color}>
                    <title>
                      {s.label} · {props.axes[i()]}: {s.titles[i()]}
                    </title>
                  </circle>
                )}
              </For>
            </g>
          );
        }}
      </For>
    </svg>
  );
}
