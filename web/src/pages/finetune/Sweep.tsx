// Recipe: a rank / learning-rate sweep. From the form's current settings, one LoRA job per (rank, learning rate)
// pair, named `<name>-r8-lr3e-3`; their validation (and training) loss curves are overlaid on one chart and a
// table gives each pair's final validation loss with the lowest marked. The group is kept in localStorage so a
// reload finds it again; the curves come from each job's event stream (followJob).
import { createMemo, createSignal, For, onCleanup, Show } from 'solid-js';
import { createStore } from 'solid-js/store';
import { errorText, trainApi } from '../../api.ts';
import LineChart, { formatNumber, type LineSeries } from '../../components/LineChart.tsx';
import { finetuneApi, lrLabel, parseNumberList, type SubmitFinetuneJob, sweepJobName } from './api.ts';
import { followJob, isTerminal, type JobStream } from './stream.ts';

export interface SweepRun {
  id: string;
  name: string;
  rank: number;
  lr: number;
}

export interface SweepGroup {
  name: string;
  runs: SweepRun[];
}

const STORE_KEY = 'lab.finetune.sweep';
const PALETTE = ['#4f6bed', '#e8684a', '#2a9d8f', '#c77dff', '#f4a261', '#6c757d', '#e63976', '#3a86ff'];
const MAX_JOBS = 16;
const FOLLOWED_AT_ONCE = 2;

function loadGroup(): SweepGroup | undefined {
  try {
    const raw = localStorage.getItem(STORE_KEY);
    if (!raw) return undefined;
    const g = JSON.parse(raw) as SweepGroup;
    return Array.isArray(g.runs) && g.runs.length ? g : undefined;
  } catch {
    return undefined;
  }
}

/** One evaluation of one job: validation loss and the training loss measured with it. */
interface EvalPoint {
  step: number;
  val: number;
  train: number | null;
}

function SweepResults(props: { group: SweepGroup }) {
  const runs = props.group.runs;
  const [curves, setCurves] = createStore<Record<string, EvalPoint[]>>(
    Object.fromEntries(runs.map((r) => [r.id, []])),
  );
  const [states, setStates] = createStore<Record<string, string>>(
    Object.fromEntries(runs.map((r) => [r.id, 'queued'])),
  );
  // A job whose stream has ended: its whole history is in.
  const [read, setRead] = createStore<Record<string, boolean>>({});
  // The browser holds at most six connections to the gateway, and every event stream keeps one open: a few
  // jobs are followed at a time, the next one when one ends (its history is replayed from the start).
  const streams = new Map<string, JobStream>();
  const waiting = [...runs];
  let disposed = false;
  const followNext = () => {
    const r = waiting.shift();
    if (!r || disposed) return;
    let ended = false;
    streams.set(
      r.id,
      followJob(
        r.id,
        (e) => {
          if (e.kind === 'eval' && e.valLoss !== undefined) {
            const point: EvalPoint = { step: e.step, val: e.valLoss, train: e.trainLoss ?? null };
            setCurves(r.id, (pts) => [...pts.filter((p) => p.step !== e.step), point]);
          }
          if (e.state) setStates(r.id, e.state);
        },
        (st) => {
          if (st !== 'closed' || ended) return;
          ended = true;
          streams.delete(r.id);
          if (!disposed) setRead(r.id, true);
          followNext();
        },
      ),
    );
  };
  for (let i = 0; i < FOLLOWED_AT_ONCE; i++) followNext();
  // The states of the jobs not followed yet (queued, or paused by hand) come from the job list.
  const poll = setInterval(async () => {
    try {
      const { jobs } = await trainApi.list();
      for (const j of jobs) if (j.id in states && !streams.has(j.id)) setStates(j.id, j.state);
    } catch {
      // the next poll tries again
    }
  }, 3000);
  onCleanup(() => {
    disposed = true;
    clearInterval(poll);
    for (const s of [...streams.values()]) s.close();
  });

  const label = (r: SweepRun) => `r${r.rank} lr${lrLabel(r.lr)}`;
  const series: LineSeries[] = runs.flatMap((r, i) => [
    { label: `${label(r)} val`, color: PALETTE[i % PALETTE.length], width: 2 },
    { label: `${label(r)} train`, color: PALETTE[i % PALETTE.length], width: 1, dash: [4, 4] },
  ]);
  // One x axis for all: the union of the evaluated steps, each job's values where it has them (gaps spanned).
  const data = createMemo((): [number[], ...(number | null)[][]] => {
    const steps = [...new Set(runs.flatMap((r) => curves[r.id]?.map((p) => p.step) ?? []))].sort(
      (a, b) => a - b,
    );
    const ys = runs.flatMap((r) => {
      const at = new Map((curves[r.id] ?? []).map((p) => [p.step, p]));
      return [steps.map((s) => at.get(s)?.val ?? null), steps.map((s) => at.get(s)?.train ?? null)];
    });
    return [steps, ...ys];
  });
  const points = () => runs.reduce((n, r) => n + (curves[r.id]?.length ?? 0), 0);

  const finalVal = (r: SweepRun): number | undefined => {
    const pts = curves[r.id] ?? [];
    return pts.length ? [...pts].sort((a, b) => a.step - b.step).at(-1)?.val : undefined;
  };
  // The best pair: the lowest final validation loss among the jobs that completed.
  const best = createMemo(() => {
    let id: string | undefined;
    let low = Number.POSITIVE_INFINITY;
    for (const r of runs) {
      const v = finalVal(r);
      if (read[r.id] && states[r.id] === 'completed' && v !== undefined && v < low) {
        low = v;
        id = r.id;
      }
    }
    return id;
  });
  const done = () => runs.every((r) => read[r.id] && isTerminal(states[r.id] ?? ''));
  const bestRun = () => runs.find((r) => r.id === best());

  return (
    <div data-testid="ft-sweep-results" data-done={done() ? 'true' : 'false'}>
      <div data-testid="ft-sweep-chart" data-series={series.length} data-points={points()}>
        <LineChart
          title={`Sweep ${props.group.name}: validation (solid) and training (dashed) loss`}
          xLabel="step"
          series={series}
          data={data()}
          height={280}
        />
      </div>
      <table class="table" data-testid="ft-sweep-table">
        <thead>
          <tr>
            <th>Job</th>
            <th>Rank</th>
            <th>Learning rate</th>
            <th>State</th>
            <th>Final val loss</th>
          </tr>
        </thead>
        <tbody>
          <For each={runs}>
            {(r, i) => (
              <tr
                data-testid="ft-sweep-row"
                data-job={r.id}
                data-rank={r.rank}
                data-lr={r.lr}
                data-state={states[r.id]}
                data-val={finalVal(r) ?? ''}
                data-best={best() === r.id ? 'true' : 'false'}
                classList={{ selected: best() === r.id }}
              >
                <td>
                  <span style={{ color: PALETTE[i() % PALETTE.length] }}>■</span> {r.name}{' '}
                  <span class="muted small">{r.id}</span>
                </td>
                <td>{r.rank}</td>
                <td>{lrLabel(r.lr)}</td>
                <td>{states[r.id]}</td>
                <td>
                  {finalVal(r) === undefined ? '—' : formatNumber(finalVal(r))}
                  <Show when={best() === r.id}>
                    {' '}
                    <span class="state-badge" data-state="completed" data-testid="ft-sweep-best">
                      best
                    </span>
                  </Show>
                </td>
              </tr>
            )}
          </For>
        </tbody>
      </table>
      <Show when={done() && bestRun()}>
        {(b) => (
          <p class="small" data-testid="ft-sweep-summary">
            Lowest final validation loss: rank {b().rank} at learning rate {lrLabel(b().lr)} (
            {formatNumber(finalVal(b()))}).
          </p>
        )}
      </Show>
    </div>
  );
}

export default function Sweep(props: {
  request: () => SubmitFinetuneJob | undefined;
  onSubmitted: () => void;
}) {
  const [ranks, setRanks] = createSignal('4, 8, 16');
  const [lrs, setLrs] = createSignal('1e-3, 3e-3');
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal<string>();
  const [group, setGroup] = createSignal<SweepGroup | undefined>(loadGroup());

  const plan = createMemo(() => {
    const r = parseNumberList(ranks(), 'Ranks', true);
    const l = parseNumberList(lrs(), 'Learning rates', false);
    if (typeof r === 'string') return r;
    if (typeof l === 'string') return l;
    if (r.length * l.length > MAX_JOBS)
      return `${r.length * l.length} jobs: at most ${MAX_JOBS} in one sweep (each is a whole fine-tune)`;
    return r.flatMap((rank) => l.map((lr) => ({ rank, lr })));
  });
  const baseName = () => props.request()?.name || 'sweep';

  const run = async () => {
    setError(undefined);
    const p = plan();
    const base = props.request();
    if (typeof p === 'string') return setError(p);
    if (!base) return setError('The form is not ready: pick a base model.');
    if (!base.dataPath && !base.datasetId)
      return setError('Pick a dataset version or give a server path in the form above.');
    setBusy(true);
    const name = baseName();
    const submitted: SweepRun[] = [];
    try {
      for (const { rank, lr } of p) {
        const jobName = sweepJobName(name, rank, lr);
        const body: SubmitFinetuneJob = {
          ...base,
          name: jobName,
          finetune: {
            ...base.finetune,
            adapter: base.finetune.adapter === 'full' ? 'lora' : base.finetune.adapter,
            loraRank: rank,
          },
          config: { ...base.config, learningRate: lr },
        };
        const r = await finetuneApi.submit(body);
        submitted.push({ id: r.id, name: jobName, rank, lr });
      }
    } catch (err) {
      setError(
        `${errorText(err)}${submitted.length ? ` (${submitted.length} of ${p.length} jobs were queued)` : ''}`,
      );
    } finally {
      setBusy(false);
    }
    if (submitted.length) {
      const g = { name, runs: submitted };
      try {
        localStorage.setItem(STORE_KEY, JSON.stringify(g));
      } catch {
        // private mode: the group lives until the page is left
      }
      setGroup(g);
      props.onSubmitted();
    }
  };

  return (
    <div class="card" data-testid="ft-sweep">
      <div class="card-head">
        <h2>Recipe: rank and learning-rate sweep</h2>
      </div>
      <p class="muted small">
        One LoRA fine-tune per pair of rank and learning rate, all with the rest of the form above (model,
        data, targets, steps, batch), so that only these two settings differ between the curves. The
        validation loss on held-out examples is the fair judge: the pair with the lowest final value
        generalises best, and a curve that turns up while its training loss keeps falling has started to
        memorise.
      </p>
      <div class="preset-grid">
        <label>
          Ranks
          <input
            name="sweepRanks"
            value={ranks()}
            placeholder="4, 8, 16"
            onInput={(e) => setRanks(e.currentTarget.value)}
          />
        </label>
        <label>
          Learning rates
          <input
            name="sweepLrs"
            value={lrs()}
            placeholder="1e-3, 3e-3"
            onInput={(e) => setLrs(e.currentTarget.value)}
          />
        </label>
      </div>
      <p class="muted small" data-testid="ft-sweep-plan">
        {(() => {
          const p = plan();
          if (typeof p === 'string') return p;
          const names = p.map((x) => sweepJobName(baseName(), x.rank, x.lr));
          return `${p.length} job${p.length === 1 ? '' : 's'}: ${names.join(', ')}. Alpha ${
            props.request()?.finetune.loraAlpha === undefined
              ? 'follows each rank (2 × rank)'
              : `stays ${props.request()?.finetune.loraAlpha}`
          }.`;
        })()}
      </p>
      <div class="form-actions">
        <button
          type="button"
          class="btn primary"
          data-testid="ft-sweep-run"
          disabled={busy() || typeof plan() === 'string'}
          onClick={() => void run()}
        >
          {busy() ? 'Queuing…' : 'Start the sweep'}
        </button>
      </div>
      <Show when={error()}>
        <div class="banner error small" role="alert" data-testid="ft-sweep-error">
          {error()}
        </div>
      </Show>
      <Show when={group()} keyed>
        {(g) => <SweepResults group={g} />}
      </Show>
    </div>
  );
}
