// Every model and checkpoint with its latest headline score per task: a sortable table, a radar chart of the
// chosen models across tasks, and a training job's checkpoints' scores against their steps.
import { createEffect, createMemo, createResource, createSignal, For, on, Show } from 'solid-js';
import { errorText, evalApi, type LeaderboardRow, type LeaderboardScore } from '../../api.ts';
import LineChart from '../../components/LineChart.tsx';
import { fmtScore, fmtStderr, lowerIsBetter } from './measures.ts';
import Radar, { type RadarSeries } from './Radar.tsx';

/** The same colours as the line charts', so a model keeps its colour between the radar and the step chart. */
const COLORS = ['#4f6bed', '#e8684a', '#2a9d8f', '#c77dff', '#f4a261', '#6c757d', '#e63976', '#3a86ff'];
const RADAR_DEFAULT = 5;

type SortKey = { key: 'model' | 'step' | string; desc: boolean };

const scoreOf = (row: LeaderboardRow, task: string): LeaderboardScore | undefined =>
  row.scores.find((s) => s.task === task);

export default function Leaderboard(props: { version: number; onOpenRun: (id: string) => void }) {
  const [data, { refetch }] = createResource(() => evalApi.leaderboard());
  createEffect(
    on(
      () => props.version,
      () => void refetch(),
      { defer: true },
    ),
  );

  const rows = () => data.latest?.rows ?? [];
  /** Tasks that have at least one score, in the service's order. */
  const tasks = createMemo(() => {
    const scored = new Set(rows().flatMap((r) => r.scores.map((s) => s.task)));
    return (data.latest?.tasks ?? []).filter((t) => scored.has(t.name));
  });
  const better = (task: string) => {
    const t = tasks().find((x) => x.name === task);
    const metric =
      rows()
        .map((r) => scoreOf(r, task)?.metric.name)
        .find(Boolean) ??
      t?.metrics[0] ??
      '';
    return t ? t.higherIsBetter && !lowerIsBetter(metric) : !lowerIsBetter(metric);
  };

  const [sort, setSort] = createSignal<SortKey>({ key: 'model', desc: false });
  const clickSort = (key: string) =>
    setSort((s) =>
      s.key === key
        ? { key, desc: !s.desc }
        : { key, desc: key !== 'model' && key !== 'step' && better(key) },
    );
  const sorted = createMemo(() => {
    const { key, desc } = sort();
    const dir = desc ? -1 : 1;
    return [...rows()].sort((a, b) => {
      if (key === 'model') return dir * a.model.localeCompare(b.model);
      if (key === 'step') return dir * (a.step - b.step) || a.model.localeCompare(b.model);
      const va = scoreOf(a, key)?.metric.value;
      const vb = scoreOf(b, key)?.metric.value;
      // Rows without the score go last whichever way.
      if (va == null || vb == null) return va == null ? (vb == null ? 0 : 1) : -1;
      return dir * (va - vb);
    });
  });
  const best = (task: string) => {
    const vs = rows()
      .map((r) => scoreOf(r, task)?.metric.value)
      .filter((v): v is number => v != null);
    if (!vs.length) return undefined;
    return better(task) ? Math.max(...vs) : Math.min(...vs);
  };

  // ---- radar: which models, and each task's values scaled to 0..1 ----
  const [onRadar, setOnRadar] = createSignal<Set<string>>(new Set());
  const [radarTouched, setRadarTouched] = createSignal(false);
  createEffect(() => {
    if (radarTouched()) return;
    // Until the learner picks, the models with the most scores.
    const top = [...rows()].sort((a, b) => b.scores.length - a.scores.length).slice(0, RADAR_DEFAULT);
    setOnRadar(new Set(top.map((r) => r.model)));
  });
  const toggleRadar = (model: string, on: boolean) => {
    setRadarTouched(true);
    const s = new Set(onRadar());
    if (on) s.add(model);
    else s.delete(model);
    setOnRadar(s);
  };
  const colorOf = (model: string) =>
    COLORS[
      Math.max(
        0,
        rows().findIndex((r) => r.model === model),
      ) % COLORS.length
    ]!;
  /** Scores already on 0..1 (accuracies) stay as they are; others are scaled by the best shown model. */
  const scale = (task: string, v: number | null | undefined, shown: LeaderboardRow[]): number | null => {
    if (v == null) return null;
    const vs = shown.map((r) => scoreOf(r, task)?.metric.value).filter((x): x is number => x != null);
    if (better(task)) {
      if (vs.every((x) => x >= 0 && x <= 1)) return v;
      const max = Math.max(...vs);
      return max > 0 ? v / max : null;
    }
    const min = Math.min(...vs);
    return v > 0 ? min / v : null;
  };
  const radarSeries = createMemo((): RadarSeries[] => {
    const shown = rows().filter((r) => onRadar().has(r.model));
    return shown.map((r) => ({
      label: r.label && r.label !== r.model ? r.label : r.model,
      color: colorOf(r.model),
      values: tasks().map((t) => scale(t.name, scoreOf(r, t.name)?.metric.value, shown)),
      titles: tasks().map((t) => {
        const s = scoreOf(r, t.name);
        return s ? `${s.metric.name} ${fmtScore(s.metric.value)}` : 'not evaluated';
      }),
    }));
  });
  const scaledTasks = () =>
    tasks().filter((t) => {
      const vs = rows()
        .filter((r) => onRadar().has(r.model))
        .map((r) => scoreOf(r, t.name)?.metric.value)
        .filter((x): x is number => x != null);
      return !better(t.name) || !vs.every((x) => x >= 0 && x <= 1);
    });

  // ---- scores against steps, for a job's checkpoints ----
  const jobs = createMemo(() => {
    const by = new Map<string, LeaderboardRow[]>();
    for (const r of rows()) if (r.jobId) by.set(r.jobId, [...(by.get(r.jobId) ?? []), r]);
    return [...by.entries()].map(([jobId, rs]) => ({
      jobId,
      // Checkpoints are named `<job name>@<step>`.
      name: rs[0]!.model.slice(0, rs[0]!.model.lastIndexOf('@')) || jobId,
      rows: rs.sort((a, b) => a.step - b.step),
    }));
  });
  const [job, setJob] = createSignal('');
  createEffect(() => {
    if (!jobs().some((j) => j.jobId === job())) setJob(jobs()[0]?.jobId ?? '');
  });
  const stepData = createMemo(() => {
    const j = jobs().find((x) => x.jobId === job());
    if (!j) return undefined;
    const ts = tasks().filter((t) => j.rows.some((r) => scoreOf(r, t.name)));
    const xs = j.rows.map((r) => r.step);
    // Lower-is-better scores (bits per byte) go on a right axis only when they share the chart with accuracies.
    const mixed = new Set(ts.map((t) => better(t.name))).size > 1;
    return {
      key: `${j.jobId}|${ts.map((t) => t.name).join(',')}`,
      series: ts.map((t) => {
        const metric = j.rows.map((r) => scoreOf(r, t.name)?.metric.name).find(Boolean) ?? t.metrics[0];
        return { label: `${t.name} ${metric}`, right: mixed && !better(t.name) };
      }),
      data: [xs, ...ts.map((t) => j.rows.map((r) => scoreOf(r, t.name)?.metric.value ?? null))] as [
        number[],
        ...(number | null)[][],
      ],
      points: j.rows.length,
    };
  });

  const arrow = (key: string) => (sort().key === key ? (sort().desc ? ' ▼' : ' ▲') : '');

  return (
    <div class="eval-leaderboard" data-testid="eval-leaderboard">
      <div class="card">
        <div class="card-head">
          <h2>Leaderboard</h2>
          <span class="muted small">
            latest completed run per model and task, by the task’s headline metric · sort by a header, open a
            run from its score
          </span>
          <span class="spacer" />
          <button type="button" class="btn small" onClick={() => void refetch()} data-testid="lb-refresh">
            ↻
          </button>
        </div>
        <Show when={data.error}>
          <div class="banner error small">{errorText(data.error)}</div>
        </Show>
        <div class="table-scroll">
          <table class="table eval-lb-table" data-testid="lb-table">
            <thead>
              <tr>
                <th title="Show on the radar chart">Radar</th>
                <th class="sortable" onClick={() => clickSort('model')} data-testid="lb-sort-model">
                  Model{arrow('model')}
                </th>
                <th class="sortable num" onClick={() => clickSort('step')} data-testid="lb-sort-step">
                  Step{arrow('step')}
                </th>
                <For each={tasks()}>
                  {(t) => (
                    <th
                      class="sortable num"
                      onClick={() => clickSort(t.name)}
                      data-testid={`lb-sort-${t.name}`}
                      title={t.description}
                    >
                      {t.name}
                      {arrow(t.name)}
                      <div class="lb-metric">
                        {rows()
                          .map((r) => scoreOf(r, t.name)?.metric.name)
                          .find(Boolean) ?? t.metrics[0]}{' '}
                        {better(t.name) ? '↑' : '↓'}
                      </div>
                    </th>
                  )}
                </For>
              </tr>
            </thead>
            <tbody>
              <For
                each={sorted()}
                fallback={
                  <tr>
                    <td colSpan={3 + tasks().length} class="muted small">
                      {data.loading
                        ? 'Loading…'
                        : 'No completed runs yet: evaluate a model and it appears here.'}
                    </td>
                  </tr>
                }
              >
                {(r) => (
                  <tr data-testid="lb-row" data-model={r.model}>
                    <td>
                      <input
                        type="checkbox"
                        checked={onRadar().has(r.model)}
                        onChange={(e) => toggleRadar(r.model, e.currentTarget.checked)}
                        aria-label={`Show ${r.model} on the radar`}
                        style={{ 'accent-color': colorOf(r.model) }}
                      />
                    </td>
                    <td>
                      {r.label && r.label !== r.model ? (
                        <>
                          {r.label} <span class="muted small">{r.model}</span>
                        </>
                      ) : (
                        r.model
                      )}
                    </td>
                    <td class="num">{r.jobId ? r.step.toLocaleString() : '—'}</td>
                    <For each={tasks()}>
                      {(t) => {
                        const s = () => scoreOf(r, t.name);
                        return (
                          <td
                            class="num"
                            data-testid="lb-cell"
                            data-task={t.name}
                            data-metric={s()?.metric.name ?? ''}
                            data-value={s()?.metric.value ?? ''}
                          >
                            <Show when={s()} fallback={<span class="muted">—</span>}>
                              {(x) => (
                                <button
                                  type="button"
                                  class="link"
                                  classList={{
                                    best: x().metric.value === best(t.name) && rows().length > 1,
                                  }}
                                  title={`${x().metric.name}, n = ${x().metric.n}; finished ${new Date(x().finishedAt).toLocaleString()}: open the run`}
                                  onClick={() => props.onOpenRun(x().runId)}
                                >
                                  {fmtScore(x().metric.value)}
                                </button>
                              )}
                            </Show>{' '}
                            <span class="muted small">{s() ? fmtStderr(s()!.metric) : ''}</span>
                          </td>
                        );
                      }}
                    </For>
                  </tr>
                )}
              </For>
            </tbody>
          </table>
        </div>
      </div>

      <div class="two-col">
        <div class="card">
          <div class="card-head">
            <h2>Across tasks</h2>
            <span class="muted small">the models ticked in the table</span>
          </div>
          <Show
            when={tasks().length && radarSeries().length}
            fallback={<p class="muted small empty">Tick models in the table to compare them here.</p>}
          >
            <Radar axes={tasks().map((t) => t.name)} series={radarSeries()} data-testid="eval-radar" />
            <div class="radar-legend small">
              <For each={radarSeries()}>
                {(s) => (
                  <span class="inline">
                    <span class="radar-swatch" style={{ background: s.color }} />
                    {s.label}
                  </span>
                )}
              </For>
            </div>
            <p class="small muted">
              Accuracies are drawn as they are (centre 0, edge 1).
              <Show when={scaledTasks().length}>
                {' '}
                {scaledTasks()
                  .map((t) => t.name)
                  .join(', ')}{' '}
                {scaledTasks().length === 1 ? 'is' : 'are'} not on a 0–1 scale: the edge is the best model
                shown (lower-is-better scores as best ÷ score).
              </Show>
              <Show when={tasks().length < 3}> With fewer than three tasks the chart is only spokes.</Show>
            </p>
          </Show>
        </div>
        <div class="card">
          <div class="card-head">
            <h2>Scores against training steps</h2>
            <Show when={jobs().length}>
              <select
                value={job()}
                onChange={(e) => setJob(e.currentTarget.value)}
                data-testid="lb-job"
                aria-label="Training job"
              >
                <For each={jobs()}>
                  {(j) => (
                    <option value={j.jobId}>
                      {j.name} ({j.rows.length} checkpoints)
                    </option>
                  )}
                </For>
              </select>
            </Show>
          </div>
          <Show
            when={stepData()?.key}
            keyed
            fallback={
              <p class="muted small empty">
                No checkpoints evaluated yet. In the form, choose “every checkpoint of a training job” to
                score each saved step, then watch how the scores grew while it trained.
              </p>
            }
          >
            {/* Keyed by job and tasks: the chart is rebuilt only when its series change, not on every refresh. */}
            {(_key) => (
              <div data-testid="eval-steps-chart" data-points={stepData()?.points}>
                <LineChart
                  title={`${jobs().find((j) => j.jobId === job())?.name ?? job()}: scores by step`}
                  xLabel="step"
                  yLabel={stepData()?.series.every((x) => !x.right) ? 'score' : 'higher is better'}
                  rightLabel="lower is better"
                  series={stepData()?.series ?? []}
                  data={stepData()?.data}
                  height={260}
                />
              </div>
            )}
          </Show>
        </div>
      </div>
    </div>
  );
}
