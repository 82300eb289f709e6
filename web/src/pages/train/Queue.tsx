// Every training job in a table, polled every 2 s. The row of the job open below shows its live header
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

/**
 * What a row shows: for the open job, exactly what its header shows, from the header's own status. Never the
 * newer of the two: the list's poll reads the job directly while the header's stream arrives later, so a row
 * taking the poll's step whenever it was ahead showed another step than the header for as long as the stream
 * lagged (the header catches up with polls of its own every 2 s).
 */
export function rowValues(
  j: TrainJob,
  live: QueueProps['live'],
): { state: string; step: number; loss?: number; valLoss?: number } {
  const polled = { state: j.state, step: j.step, loss: j.loss || undefined, valLoss: j.valLoss || undefined };
  // No state yet: the header does not know the job's state either (it is still loading the job).
  if (!live || live.id !== j.id || !live.status.state) return polled;
  const s = live.status;
  return {
    state: s.state,
    step: s.step,
    loss: s.loss,
    // Not in the header: the poll's value stands in until the header has one.
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
