import { createSignal, For, onCleanup, Show } from 'solid-js';
import { type EvalRun, errorText, getJSON, type TrainJob } from '../../api.ts';
import { fmt } from './describe.ts';

const POLL_MS = 2000;

/** One row of the running table, whatever service runs it. */
export interface RunningRow {
  kind: 'training' | 'eval';
  id: string;
  name: string;
  state: string;
  progress: string;
  /** 0..1, when known. */
  fraction?: number;
  href: string;
}

export function trainRow(j: TrainJob): RunningRow {
  const loss = Number.isFinite(j.loss) && j.loss > 0 ? ` · loss ${fmt(j.loss)}` : '';
  return {
    kind: 'training',
    id: j.id,
    name: j.name || j.id,
    state: j.state,
    progress: `step ${j.step} of ${j.iters}${loss}`,
    fraction: j.iters > 0 ? j.step / j.iters : undefined,
    href: '#/train',
  };
}

export function evalRow(r: EvalRun): RunningRow {
  const { done, total, message } = r.progress ?? { done: 0, total: 0, message: '' };
  return {
    kind: 'eval',
    id: r.id,
    name: `${r.task} on ${r.model}${r.label ? ` (${r.label})` : ''}`,
    state: r.state,
    progress: total > 0 ? `${done} of ${total}${message ? ` · ${message}` : ''}` : message || '—',
    fraction: total > 0 ? done / total : undefined,
    href: `#/eval?run=${encodeURIComponent(r.id)}`,
  };
}

/**
 * Work in progress on every service that lists it: training jobs (GET /api/train/jobs) and eval runs
 * (GET /api/eval/runs), running or queued. Tokenizer trainings and data transforms have no listing in the
 * gateway: they show in the events below.
 */
export default function RunningJobs() {
  const [rows, setRows] = createSignal<RunningRow[]>();
  const [errors, setErrors] = createSignal<string[]>([]);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const ctrl = new AbortController();
  const opts = { signal: ctrl.signal, timeoutMs: 5000 };

  const list = async <T,>(label: string, path: string, pick: (body: T) => RunningRow[]) => {
    try {
      return { rows: pick(await getJSON<T>(path, opts)) };
    } catch (err) {
      return { rows: [], error: `${label}: ${errorText(err)}` };
    }
  };

  const poll = async () => {
    const started = Date.now();
    const parts = await Promise.all([
      ...(['running', 'paused', 'queued'] as const).map((s) =>
        list<{ jobs: TrainJob[] }>(`training jobs (${s})`, `/api/train/jobs?state=${s}`, (b) =>
          b.jobs.map(trainRow),
        ),
      ),
      ...(['running', 'queued'] as const).map((s) =>
        list<{ runs: EvalRun[] }>(`eval runs (${s})`, `/api/eval/runs?state=${s}`, (b) =>
          b.runs.map(evalRow),
        ),
      ),
    ]);
    if (stopped) return;
    setRows(parts.flatMap((p) => p.rows));
    setErrors(parts.flatMap((p) => (p.error ? [p.error] : [])));
    timer = setTimeout(poll, Math.max(0, POLL_MS - (Date.now() - started)));
  };
  void poll();
  onCleanup(() => {
    stopped = true;
    ctrl.abort();
    if (timer) clearTimeout(timer);
  });

  return (
    <div class="card" data-testid="running">
      <div class="card-head">
        <h2>Running</h2>
        <Show when={rows()}>
          {(r) => (
            <span class="pill" data-testid="running-count">
              {r().length} {r().length === 1 ? 'job' : 'jobs'}
            </span>
          )}
        </Show>
        <span class="muted small">training jobs and eval runs, running, paused or queued · every 2 s</span>
      </div>
      <Show when={errors().length > 0}>
        <div class="banner error small" role="alert">
          Could not list {errors().join('; ')}.
        </div>
      </Show>
      <Show when={rows()} fallback={<p class="muted">Asking the services…</p>}>
        {(r) => (
          <Show
            when={r().length > 0}
            fallback={
              <p class="muted empty" data-testid="running-empty">
                Nothing is running. Start a training job on the <a href="#/train">Train page</a> or an eval
                run on the <a href="#/eval">Eval page</a>.
              </p>
            }
          >
            <table class="table running" data-testid="running-table">
              <thead>
                <tr>
                  <th>Kind</th>
                  <th>Name</th>
                  <th>State</th>
                  <th>Progress</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                <For each={r()}>
                  {(row) => (
                    <tr data-testid="running-row" data-kind={row.kind} data-id={row.id}>
                      <td>{row.kind}</td>
                      <td>
                        <span class="strong">{row.name}</span>
                        <div class="mono muted small">{row.id}</div>
                      </td>
                      <td>
                        <span class={`pill state-${row.state}`}>{row.state}</span>
                      </td>
                      <td>
                        <span data-testid="running-progress">{row.progress}</span>
                        <Show when={row.fraction !== undefined}>
                          <progress
                            max="1"
                            value={row.fraction}
                            style={{ display: 'block', width: '10rem' }}
                          />
                        </Show>
                      </td>
                      <td>
                        <a href={row.href}>open</a>
                      </td>
                    </tr>
                  )}
                </For>
              </tbody>
            </table>
          </Show>
        )}
      </Show>
    </div>
  );
}
