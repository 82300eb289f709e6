// What the run would cost before it starts: parameters (the job's own count), memory against this machine,
// time per step and in all, FLOPs per token, and the warnings that make Start ask first.
import { For, Show } from 'solid-js';
import { formatBytes, formatCount, formatNumber } from '../../components/format.ts';
import type { FullEstimate } from './api.ts';
import { formatDuration } from './types.ts';

export default function EstimateLine(props: { estimate?: FullEstimate; note?: string; iters: number }) {
  const memoryShare = (est: FullEstimate) =>
    est.machine.memoryBytes ? ` of this machine’s ${formatBytes(est.machine.memoryBytes)}` : '';
  return (
    <div class="small estimate-line" data-testid="train-estimate">
      <Show when={props.estimate} fallback={<span class="muted">{props.note ?? 'Estimating…'}</span>}>
        {(est) => (
          <>
            <b data-testid="train-estimate-parameters">{formatCount(est().parameters.total)}</b> parameters
            (embeddings {formatCount(est().parameters.embeddings)}, attention{' '}
            {formatCount(est().parameters.attention)}, MLP {formatCount(est().parameters.mlp)}
            <Show when={est().vocabSize}>
              ; vocabulary {formatCount(est().vocabSize)}
              {est().vocabSource === 'preset' ? ', the preset’s until the data is chosen' : ''}
            </Show>
            ) · memory <b data-testid="train-estimate-memory">{formatBytes(est().memory.total)}</b>
            {memoryShare(est())} (weights {formatBytes(est().memory.weights)}, optimizer{' '}
            {formatBytes(est().memory.optimizer)}, activations {formatBytes(est().memory.activations)}) ·
            about <b>{formatNumber(est().secondsPerStep)} s</b> per step
            <Show when={est().totalSeconds}>
              {' '}
              × {formatCount(props.iters)} steps ≈{' '}
              <b data-testid="train-estimate-total">{formatDuration(est().totalSeconds)}</b> in all
            </Show>{' '}
            · {formatNumber(est().flopsPerToken.total)} FLOPs per token
            <Show when={est().warnings.length}>
              <ul class="banner warn small train-warnings" data-testid="train-warnings">
                <For each={est().warnings}>
                  {(w) => (
                    <li data-kind={w.kind} data-field={w.field}>
                      {w.message}
                    </li>
                  )}
                </For>
              </ul>
            </Show>
          </>
        )}
      </Show>
    </div>
  );
}
