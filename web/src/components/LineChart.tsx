import { createEffect, on, onCleanup, onMount } from 'solid-js';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatNumber, WHOLE_INCREMENTS } from './format.ts';

/** Re-exported: pages that draw charts format their numbers as the legend does. */
export { formatNumber };

/** One line of the chart. */
export interface LineSeries {
  label: string;
  /** CSS colour; a palette colour when absent. */
  color?: string;
  /** Line width in CSS pixels (default 1.5). */
  width?: number;
  dash?: number[];
  /** Put this series on a second y axis on the right (e.g. learning rate next to loss). */
  right?: boolean;
}

/** Imperative handle for live data: push points as they arrive, the chart redraws at most once per frame. */
export interface LineChartHandle {
  /**
   * Adds one x value with one y per series (null = gap). At the x of the newest point it fills that point's
   * gaps instead (a validation loss at the step whose training loss is drawn), keeping the values it has: one
   * point per x, so hovering it shows every series' value there.
   */
  append(x: number, ys: readonly (number | null)[]): void;
  /** Adds many points at once (`ys[seriesIndex][pointIndex]`). */
  appendMany(xs: readonly number[], ys: readonly (readonly (number | null)[])[]): void;
  /** Replaces all data. */
  setData(xs: readonly number[], ys: readonly (readonly (number | null)[])[]): void;
  clear(): void;
  /** Number of x values held. */
  size(): number;
  /** The underlying uPlot instance (undefined before mount). */
  plot(): uPlot | undefined;
}

export interface LineChartProps {
  series: LineSeries[];
  /** Initial / reactive data: `[xs, ys0, ys1, …]`. For live data prefer `ref` + `append`. */
  data?: [readonly number[], ...(readonly (number | null)[])[]];
  title?: string;
  xLabel?: string;
  yLabel?: string;
  rightLabel?: string;
  /** Height in CSS pixels (default 240); the width follows the container. */
  height?: number;
  /** Logarithmic y axis (loss curves often read better this way). */
  logY?: boolean;
  /** x values are Unix seconds (time axis) instead of plain numbers such as steps. */
  timeX?: boolean;
  /** Keep at most this many points, dropping the oldest (default: keep everything). */
  maxPoints?: number;
  ref?: (handle: LineChartHandle) => void;
  class?: string;
  'data-testid'?: string;
}

/** Axis ticks: like formatNumber, but 10k–1e9 as 12.5k / 1.2M so they fit the axis width. */
function tickNumber(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6 && a < 1e9) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (a >= 1e4 && a < 1e6) return `${Number((v / 1e3).toPrecision(3))}k`;
  return formatNumber(v);
}

const tickValues = (_u: uPlot, splits: number[]) => splits.map(tickNumber);

const PALETTE = ['#4f6bed', '#e8684a', '#2a9d8f', '#c77dff', '#f4a261', '#6c757d', '#e63976', '#3a86ff'];

/**
 * A small uPlot wrapper. uPlot draws to one canvas and handles 100k+ points per series smoothly; this component
 * adds Solid lifecycle, container-width resizing and batched appends (many `append` calls in one frame cause a
 * single redraw). Drag to zoom, double-click to return to following the live data.
 */
export default function LineChart(props: LineChartProps) {
  let host!: HTMLDivElement;
  let u: uPlot | undefined;
  let xs: number[] = [];
  let ys: (number | null)[][] = props.series.map(() => []);
  let frame = 0;
  /** True while the user has zoomed in by dragging: new data then does not reset the view. */
  let zoomed = false;

  const aligned = (): uPlot.AlignedData => [xs, ...ys] as unknown as uPlot.AlignedData;

  const redraw = () => {
    frame = 0;
    if (!u) return;
    u.setData(aligned(), !zoomed);
  };
  const schedule = () => {
    if (!frame) frame = requestAnimationFrame(redraw);
  };

  const trim = () => {
    const max = props.maxPoints;
    if (max && xs.length > max) {
      const drop = xs.length - max;
      xs.splice(0, drop);
      for (const s of ys) s.splice(0, drop);
    }
  };

  const handle: LineChartHandle = {
    append(x, values) {
      const last = xs.length - 1;
      if (last >= 0 && xs[last] === x) {
        for (let i = 0; i < ys.length; i++) if (ys[i]![last] == null) ys[i]![last] = values[i] ?? null;
        schedule();
        return;
      }
      xs.push(x);
      for (let i = 0; i < ys.length; i++) ys[i]!.push(values[i] ?? null);
      trim();
      schedule();
    },
    appendMany(newXs, newYs) {
      for (let j = 0; j < newXs.length; j++) {
        xs.push(newXs[j]!);
        for (let i = 0; i < ys.length; i++) ys[i]!.push(newYs[i]?.[j] ?? null);
      }
      trim();
      schedule();
    },
    setData(newXs, newYs) {
      xs = Array.from(newXs);
      ys = props.series.map((_, i) => Array.from(newYs[i] ?? new Array<number | null>(xs.length).fill(null)));
      trim();
      zoomed = false;
      schedule();
    },
    clear() {
      xs = [];
      ys = props.series.map(() => []);
      zoomed = false;
      schedule();
    },
    size: () => xs.length,
    plot: () => u,
  };

  createEffect(
    on(
      () => props.data,
      (data) => {
        if (data) handle.setData(data[0], data.slice(1) as (readonly (number | null)[])[]);
      },
    ),
  );

  onMount(() => {
    const hasRight = props.series.some((s) => s.right);
    const opts: uPlot.Options = {
      title: props.title,
      width: Math.max(200, host.clientWidth || 600),
      height: props.height ?? 240,
      pxAlign: false,
      cursor: { drag: { x: true, y: false }, points: { size: 6 } },
      legend: { live: true },
      scales: {
        x: { time: props.timeX ?? false },
        y: props.logY ? { distr: 3 } : {},
        ...(hasRight ? { y2: {} } : {}),
      },
      axes: [
        {
          label: props.xLabel,
          stroke: '#555',
          grid: { stroke: '#eee' },
          ticks: { stroke: '#ddd' },
          ...(props.timeX ? {} : { incrs: [...WHOLE_INCREMENTS] }),
        },
        {
          label: props.yLabel,
          stroke: '#555',
          grid: { stroke: '#eee' },
          ticks: { stroke: '#ddd' },
          values: tickValues,
          size: 56,
        },
        ...(hasRight
          ? [
              {
                scale: 'y2',
                side: 1,
                label: props.rightLabel,
                stroke: '#555',
                grid: { show: false },
                values: tickValues,
                size: 60,
              } as uPlot.Axis,
            ]
          : []),
      ],
      series: [
        { label: props.xLabel ?? 'x' },
        ...props.series.map(
          (s, i): uPlot.Series => ({
            label: s.label,
            stroke: s.color ?? PALETTE[i % PALETTE.length],
            width: s.width ?? 1.5,
            dash: s.dash,
            scale: s.right ? 'y2' : 'y',
            points: { show: false },
            spanGaps: true,
            value: (_u, v) => formatNumber(v),
          }),
        ),
      ],
      hooks: {
        setSelect: [
          (self) => {
            if (self.select.width > 0) zoomed = true;
          },
        ],
      },
    };
    u = new uPlot(opts, aligned(), host);
    // uPlot's own double-click resets the zoom; follow the live data again after it.
    u.over.addEventListener('dblclick', () => {
      zoomed = false;
      schedule();
    });

    const ro = new ResizeObserver(() => {
      if (!u) return;
      const w = Math.max(200, host.clientWidth);
      if (w !== u.width) u.setSize({ width: w, height: props.height ?? 240 });
    });
    ro.observe(host);
    props.ref?.(handle);

    onCleanup(() => {
      ro.disconnect();
      if (frame) cancelAnimationFrame(frame);
      u?.destroy();
      u = undefined;
    });
  });

  return <div class={`line-chart ${props.class ?? ''}`} ref={host} data-testid={props['data-testid']} />;
}
