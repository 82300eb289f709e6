// Every training job in a table, polled every 2 s. The row of the job open below follows its live header
// (step, losses, state) instead of waiting for the next poll.
import { For, Show } from 'solid-js';
import type { TrainJob } from '../../api.ts';
import { formatCount, formatNumber } from '../../components/format.ts';
import type { LiveStatus } from './JobHeader.tsx';

export interface QueueProps {
  jobs: readonly TrainJob[];
  error?: string;
  selected?: string;
  onSelect: (id: string) => void;
  /** The open job's header as it is now. */
  live?: { id: string; status: LiveStatus };
}

/** What a row shows: the live header's values where they are at least as new as the polled row. */
export function rowValues(
  j: TrainJob,
  live: QueueProps['live'],
): { state: string; step: number; loss?: number; valLoss?: number } {
  const polled = { state: j.state, step: j.step, loss: j.loss || undefined, valLoss: j.valLoss || undefined };
  if (!live || live.id !== j.id || live.status.step < j.step || !live.status.state) return polled;
  const s = live.status;
  return {
    state: s.state,
    step: s.step,
    loss: s.loss ?? polled.loss,
    valLoss: s.valLoss ?? polled.valLoss,
  };
}

export default function Queue(props: QueueProps) {
  return (
    <div class="card">
      <div class="card-head">
        <h2>Queue</h2>
      </div>
      <Show when={props.error}>
        <div class="banner error small">{props.error}</div>
      </Show>
      <table class="table" data-testid="job-list">
        <thead>
          <tr>
            <th>Job</th>
            <th>State</th>
            <th>Step</th>
            <th>Loss</th>
            <th>Val loss</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          <For
            each={props.jobs}
            fallback={
              <tr>
                <td colSpan={6} class="muted small">
                  No training jobs yet.
                </td>
              </tr>
            }
          >
            {(j) => {
              const v = () => rowValues(j, props.live);
              return (
                <tr
                  class="job-row"
                  classList={{ selected: j.id === props.selected }}
                  data-testid={`job-${j.id}`}
                  data-state={v().state}
                  onClick={() => props.onSelect(j.id)}
                >
                  <td>
                    {j.name || j.id} <span class="muted small">{j.id}</span>
                  </td>
                  <td data-col="state">{v().state}</td>
                  <td data-col="step">
                    {formatCount(v().step)} / {formatCount(j.iters)}
                  </td>
                  <td data-col="loss">{formatNumber(v().loss)}</td>
                  <td data-col="val-loss">{formatNumber(v().valLoss)}</td>
                  <td class="small">{new Date(j.createdAt).toLocaleTimeString()}</td>
                </tr>
              );
            }}
          </For>
        </tbody>
      </table>
    </div>
  );
}
