// Every evaluation of a run, newest first: step, validation loss, perplexity, training loss and its sample.
import { For, Show } from 'solid-js';
import { formatCount, formatNumber } from '../../components/format.ts';
import type { EvalEvent } from './types.ts';

export default function Timeline(props: { evals: readonly EvalEvent[] }) {
  const newestFirst = () => [...props.evals].reverse();
  return (
    <ol data-testid="job-timeline" class="small timeline">
      <For each={newestFirst()} fallback={<li class="muted">No evaluation yet.</li>}>
        {(e) => (
          <li data-step={e.step} data-testid="timeline-eval">
            <b>step {formatCount(e.step)}</b>
            <Show when={e.valLoss !== undefined}> · val loss {formatNumber(e.valLoss)}</Show>
            <Show when={e.perplexity !== undefined}>
              {' '}
              · perplexity <span data-testid="timeline-perplexity">{formatNumber(e.perplexity)}</span>
            </Show>
            <Show when={e.trainLoss !== undefined}> · train loss {formatNumber(e.trainLoss)}</Show>
            <Show when={e.elapsedSeconds !== undefined}>
              {' '}
              · at {formatCount(Math.round(e.elapsedSeconds ?? 0))} s
            </Show>
            <div class="sample" data-testid="timeline-sample">
              {e.sample || <span class="muted">no sample</span>}
            </div>
          </li>
        )}
      </For>
    </ol>
  );
}
