// The estimate of a fine-tune before it starts: what trains, where the memory goes (the base's weights in
// float32 or 4 bits, the adapter, AdamW's moments, activations) and the step time, with whether it fits
// this machine and a 16 GB GPU. It follows the form: rank, targets, method and adapter change it at once.
import { For, Show } from 'solid-js';
import { formatDuration } from '../train/types.ts';
import type { FinetuneEstimate } from './api.ts';

const bytes = (n: number) =>
  n >= 2 ** 30
    ? `${(n / 2 ** 30).toFixed(2)} GB`
    : n >= 2 ** 20
      ? `${(n / 2 ** 20).toFixed(1)} MB`
      : `${(n / 1024).toFixed(1)} KB`;

export default function Estimate(props: { estimate: FinetuneEstimate }) {
  const e = () => props.estimate;
  const share = () => e().trainableParameters / Math.max(1, e().baseParameters);
  const rows = () =>
    [
      [
        'weights',
        `Base weights (${e().weightsFormat === 'nf4' ? 'NF4, 4 bits' : 'float32'})`,
        e().memory.weights,
      ],
      ['adapter', 'Adapter', e().memory.adapter],
      ['gradients', 'Gradients', e().memory.gradients],
      ['optimizer', 'AdamW moments', e().memory.optimizer],
      ['activations', 'Activations', e().memory.activations],
      ['dequantized', 'NF4 weights rebuilt in float32 in the graph', e().memory.dequantized],
    ].filter(([k, , v]) => k !== 'dequantized' || (v as number) > 0) as [string, string, number][];
  return (
    <div data-testid="ft-estimate" data-trainable={e().trainableParameters} data-total={e().memory.total}>
      <p class="small">
        <b data-testid="ft-estimate-trainable">{e().trainableParameters.toLocaleString()}</b> trainable
        parameters of {e().baseParameters.toLocaleString()} (
        {(share() * 100).toPrecision(share() < 0.01 ? 2 : 3)}%) · about{' '}
        {e().secondsPerStep < 1
          ? `${(e().secondsPerStep * 1000).toFixed(0)} ms`
          : `${e().secondsPerStep.toPrecision(3)} s`}{' '}
        a step on this machine
        <Show when={e().totalSeconds > 0}> · {formatDuration(e().totalSeconds)} in all</Show>
      </p>
      <table class="table small">
        <tbody>
          <For each={rows()}>
            {([k, label, v]) => (
              <tr data-testid={`ft-estimate-${k}`} data-bytes={v}>
                <td>{label}</td>
                <td>{bytes(v)}</td>
              </tr>
            )}
          </For>
          <tr>
            <td>
              <b>Total</b>
            </td>
            <td>
              <b>{bytes(e().memory.total)}</b>
            </td>
          </tr>
        </tbody>
      </table>
      <p class="small">
        <For each={e().fits}>
          {(f) => (
            <span data-testid="ft-estimate-fit" data-device={f.device} data-fits={f.fits ? 'true' : 'false'}>
              {f.fits ? '✓' : '✗'} {f.fits ? 'fits' : 'does not fit'} {f.device} ({bytes(f.memoryBytes)}){' '}
            </span>
          )}
        </For>
      </p>
      <For each={e().warnings}>
        {(w) => (
          <div class="banner error small" data-testid="ft-estimate-warning" data-field={w.field}>
            {w.message}
          </div>
        )}
      </For>
    </div>
  );
}
