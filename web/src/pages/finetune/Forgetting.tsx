// Recipe: a forgetting check. svc-eval's perplexity of general text (WikiText-2's raw test split, the first N
// tokens) for the base model and for a checkpoint `<job>@<step>` of the fine-tune, side by side with the change:
// a fine-tuned model that got worse on text it was not tuned on has forgotten some of what the base knew.
import { createSignal, For, onCleanup, Show } from 'solid-js';
import { type EvalRun, errorText, evalApi } from '../../api.ts';
import { formatNumber } from '../../components/LineChart.tsx';
import { modelName } from '../train/Checkpoints.tsx';
import { checkpointsOf, type TrainJobDetail } from '../train/types.ts';
import { finetuneApi, lineageOf } from './api.ts';

const EVAL_TERMINAL = ['completed', 'failed', 'cancelled'];
/** Changes within ±1% are read as noise of a short text, not as forgetting. */
const TOLERANCE = 0.01;

const metric = (r: EvalRun | undefined, name: string) =>
  r?.metrics.find((m) => m.name === name)?.value ?? undefined;

export type Verdict = 'forgot' | 'unchanged' | 'improved';

/** The relative change of the fine-tuned model's perplexity against the base's, and what it means. */
export function forgettingOf(base: number, tuned: number): { change: number; verdict: Verdict } {
  const change = tuned / base - 1;
  return {
    change,
    verdict: change > TOLERANCE ? 'forgot' : change < -TOLERANCE ? 'improved' : 'unchanged',
  };
}

const VERDICT_TEXT: Record<Verdict, string> = {
  forgot: 'worse on general text than its base: it has forgotten some of what the base knew',
  unchanged: 'about as good on general text as its base: no sign of forgetting',
  improved: 'better on general text than its base: the fine-tune did not cost it its general knowledge',
};

export default function Forgetting(props: { job: TrainJobDetail }) {
  const steps = () => checkpointsOf(props.job).map((c) => c.step);
  const [step, setStep] = createSignal<number>();
  const [limit, setLimit] = createSignal('2048');
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal<string>();
  const [runs, setRuns] = createSignal<{ base: EvalRun; tuned: EvalRun }>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  onCleanup(() => clearTimeout(timer));

  const chosen = () => step() ?? steps().at(-1);
  const base = () => lineageOf(props.job)?.baseModel ?? '';

  const poll = async () => {
    const cur = runs();
    if (!cur) return;
    try {
      const [b, t] = await Promise.all([evalApi.run(cur.base.id), evalApi.run(cur.tuned.id)]);
      setRuns({ base: b, tuned: t });
      if (EVAL_TERMINAL.includes(b.state) && EVAL_TERMINAL.includes(t.state)) return setBusy(false);
    } catch (err) {
      setError(errorText(err));
    }
    timer = setTimeout(() => void poll(), 1000);
  };

  const start = async () => {
    setError(undefined);
    const s = chosen();
    if (s === undefined) return setError('The job has no checkpoint yet.');
    const n = Number(limit());
    if (!Number.isInteger(n) || n < 2) return setError('Tokens: a whole number of at least 2.');
    setBusy(true);
    setRuns(undefined);
    try {
      const text = await finetuneApi.generalText();
      if (!text.available)
        throw new Error(`${text.name} is not on the server (looked for ${text.textPath}).`);
      const tuned = modelName(props.job.id, s);
      const submit = (model: string) =>
        evalApi.submit({
          model,
          task: 'perplexity',
          textPath: text.textPath,
          limit: n,
          label: `forgetting check of ${tuned}`,
        });
      const [b, t] = await Promise.all([submit(base()), submit(tuned)]);
      setRuns({ base: b, tuned: t });
      void poll();
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  };

  const result = () => {
    const r = runs();
    const b = metric(r?.base, 'perplexity');
    const t = metric(r?.tuned, 'perplexity');
    if (r?.base.state !== 'completed' || r.tuned.state !== 'completed' || b === undefined || t === undefined)
      return undefined;
    return { base: b, tuned: t, ...forgettingOf(b, t) };
  };

  return (
    <div data-testid="ft-forget" class="small">
      <h3 class="small">Recipe: forgetting check</h3>
      <p class="muted small">
        Perplexity of general text (WikiText-2’s Wikipedia articles, which neither model trained on) for the
        base model and for a checkpoint of this fine-tune, measured the same way by svc-eval. If the
        fine-tuned model’s perplexity is higher than its base’s, tuning on the new examples cost it some of
        what it knew: that is forgetting.
      </p>
      <div class="preset-grid">
        <label>
          Checkpoint
          <select
            name="forgetStep"
            value={String(chosen() ?? '')}
            onChange={(e) => setStep(Number(e.currentTarget.value))}
          >
            <For each={steps()}>{(s) => <option value={String(s)}>{modelName(props.job.id, s)}</option>}</For>
          </select>
        </label>
        <label>
          Tokens of text
          <input
            type="number"
            name="forgetLimit"
            min="2"
            value={limit()}
            onInput={(e) => setLimit(e.currentTarget.value)}
          />
        </label>
      </div>
      <div class="form-actions">
        <button
          type="button"
          class="btn"
          data-testid="ft-forget-run"
          disabled={busy() || chosen() === undefined || !base()}
          onClick={() => void start()}
        >
          {busy() ? 'Measuring…' : `Compare with ${base() || 'the base'}`}
        </button>
      </div>
      <Show when={error()}>
        <div class="banner error small" role="alert" data-testid="ft-forget-error">
          {error()}
        </div>
      </Show>
      <Show when={runs()}>
        {(r) => (
          <table class="table" data-testid="ft-forget-table">
            <thead>
              <tr>
                <th>Model</th>
                <th>State</th>
                <th>Perplexity</th>
                <th>Bits per byte</th>
              </tr>
            </thead>
            <tbody>
              <For each={[r().base, r().tuned]}>
                {(run, i) => (
                  <tr
                    data-testid="ft-forget-row"
                    data-role={i() === 0 ? 'base' : 'tuned'}
                    data-model={run.model}
                    data-run={run.id}
                    data-state={run.state}
                    data-ppl={metric(run, 'perplexity') ?? ''}
                  >
                    <td>
                      {run.model} <span class="muted">{i() === 0 ? '(base)' : '(fine-tuned)'}</span>
                    </td>
                    <td>
                      {run.state}
                      <Show when={run.state === 'running' && run.progress.total}>
                        {' '}
                        {run.progress.done}/{run.progress.total}
                      </Show>
                      <Show when={run.error}>
                        <div class="error-text" data-testid="ft-forget-run-error">
                          {run.error}
                        </div>
                      </Show>
                    </td>
                    <td>{formatNumber(metric(run, 'perplexity'))}</td>
                    <td>{formatNumber(metric(run, 'bits_per_byte'))}</td>
                  </tr>
                )}
              </For>
            </tbody>
          </table>
        )}
      </Show>
      <Show when={result()}>
        {(x) => (
          <p
            data-testid="ft-forget-result"
            data-base={x().base}
            data-tuned={x().tuned}
            data-change={x().change}
            data-verdict={x().verdict}
          >
            Perplexity {formatNumber(x().base)} → {formatNumber(x().tuned)} ({x().change >= 0 ? '+' : ''}
            {(x().change * 100).toFixed(1)}%): {VERDICT_TEXT[x().verdict]}.
          </p>
        )}
      </Show>
    </div>
  );
}
