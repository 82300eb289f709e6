// Every run, newest first, with its live progress, its headline score and a cancel button.
import { createSignal, For, Show } from 'solid-js';
import { type EvalRun, type EvalTask, errorText, evalApi } from '../../api.ts';
import { fmtScore, headline, isTerminal } from './measures.ts';

export function RunProgress(props: { run: EvalRun }) {
  const pct = () => {
    const p = props.run.progress;
    if (props.run.state === 'completed') return 100;
    return p.total > 0 ? Math.min(100, (100 * p.done) / p.total) : 0;
  };
  return (
    <div
      class="progress"
      classList={{
        done: props.run.state === 'completed',
        failed: props.run.state === 'failed' || props.run.state === 'cancelled',
        indeterminate: props.run.state === 'running' && props.run.progress.total === 0,
      }}
      role="progressbar"
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.round(pct())}
      data-testid="eval-run-progress"
      data-done={props.run.progress.done}
      data-total={props.run.progress.total}
    >
      <div class="progress-fill" style={{ width: `${pct()}%` }} />
    </div>
  );
}

export default function RunsList(props: {
  runs: readonly EvalRun[];
  total: number;
  tasks: readonly EvalTask[];
  selected?: string;
  error?: string;
  onSelect: (id: string) => void;
}) {
  const [cancelError, setCancelError] = createSignal<string>();
  const cancel = async (id: string) => {
    setCancelError(undefined);
    try {
      await evalApi.cancel(id);
    } catch (err) {
      setCancelError(errorText(err));
    }
  };
  const task = (name: string) => props.tasks.find((t) => t.name === name);

  return (
    <div class="card">
      <div class="card-head">
        <h2>Runs</h2>
        <span class="muted small">
          {props.total.toLocaleString()} in all · runs wait in a queue and are scored one at a time
        </span>
      </div>
      <Show when={props.error}>
        <div class="banner error small">{props.error}</div>
      </Show>
      <Show when={cancelError()}>
        <div class="banner error small" role="alert">
          {cancelError()}
        </div>
      </Show>
      <div class="table-scroll eval-runs-scroll">
        <table class="table" data-testid="eval-runs">
          <thead>
            <tr>
              <th>Model</th>
              <th>Task</th>
              <th>State</th>
              <th class="eval-progress-col">Progress</th>
              <th class="num">Score</th>
              <th>Started</th>
              <th />
            </tr>
          </thead>
          <tbody>
            <For
              each={props.runs}
              fallback={
                <tr>
                  <td colSpan={7} class="muted small">
                    No evaluations yet: pick a model and a task above.
                  </td>
                </tr>
              }
            >
              {(r) => {
                const m = () => headline(r.metrics, task(r.task));
                return (
                  <tr
                    class="job-row"
                    classList={{ selected: r.id === props.selected }}
                    data-testid={`eval-run-${r.id}`}
                    data-state={r.state}
                    onClick={() => props.onSelect(r.id)}
                  >
                    <td>
                      {r.label && r.label !== r.model ? (
                        <>
                          {r.label} <span class="muted small">{r.model}</span>
                        </>
                      ) : (
                        r.model
                      )}
                    </td>
                    <td>{r.task}</td>
                    <td>
                      <span class={`state-badge eval-state-${r.state}`}>{r.state}</span>
                    </td>
                    <td>
                      <RunProgress run={r} />
                      <span class="muted small">
                        <Show when={r.progress.total > 0}>
                          {r.progress.done.toLocaleString()} / {r.progress.total.toLocaleString()}
                        </Show>
                        <Show when={r.state === 'failed' && r.error}>
                          <span class="error-text"> {r.error}</span>
                        </Show>
                      </span>
                    </td>
                    <td class="num">
                      <Show when={m()} fallback="—">
                        {(x) => (
                          <span title={x().name}>
                            {fmtScore(x().value)} <span class="muted small">{x().name}</span>
                          </span>
                        )}
                      </Show>
                    </td>
                    <td class="small">{new Date(r.createdAt).toLocaleTimeString()}</td>
                    <td>
                      <Show when={!isTerminal(r.state)}>
                        <button
                          type="button"
                          class="btn small"
                          data-testid="eval-run-cancel"
                          onClick={(e) => {
                            e.stopPropagation();
                            void cancel(r.id);
                          }}
                        >
                          Cancel
                        </button>
                      </Show>
                    </td>
                  </tr>
                );
              }}
            </For>
          </tbody>
        </table>
      </div>
    </div>
  );
}
