// One fine-tuning job: live training and validation loss from the job's event stream, the latest sample, the
// controls, and its checkpoints with their lineage, a "Chat with it" link into the Playground and a "Compare
// with base" link into its side-by-side view; once done, the end-of-turn check after merge and export.
import { createMemo, createSignal, For, onCleanup, Show } from 'solid-js';
import { errorText, trainApi } from '../../api.ts';
import LineChart, { formatNumber, type LineChartHandle } from '../../components/LineChart.tsx';
import { compareHref } from '../playground/adapters.ts';
import { modelName } from '../train/Checkpoints.tsx';
import { checkpointsOf, formatDuration, type TrainJobDetail } from '../train/types.ts';
import { lineageOf } from './api.ts';
import EosSurvivalCheck from './EosSurvival.tsx';
import Forgetting from './Forgetting.tsx';
import LineageTable from './Lineage.tsx';
import { followJob, isTerminal, type StreamState } from './stream.ts';

/** DPO's numbers on a step or evaluation event (the gateway's TrainEvent.preference). */
interface Preference {
  chosenReward: number;
  rejectedReward: number;
  margin: number;
  accuracy: number;
}

/** The Playground, opened on a model (it reads `?model=` from the address, as the Train page's link does). */
export const playgroundHref = (model: string) => `#/playground?model=${encodeURIComponent(model)}`;

function CheckpointList(props: { job: TrainJobDetail }) {
  const lineage = () => lineageOf(props.job);
  const list = createMemo(() => checkpointsOf(props.job));
  return (
    <div data-testid="ft-checkpoints" class="small">
      <Show when={lineage()}>{(l) => <LineageTable lineage={l()} />}</Show>
      <ul>
        <For
          each={list()}
          fallback={<li class="muted">No checkpoint yet: one is written at each evaluation.</li>}
        >
          {(c) => (
            <li data-testid="ft-checkpoint" data-step={c.step} data-model={modelName(props.job.id, c.step)}>
              <b>{props.job.name || props.job.id}</b>@{c.step} · val loss{' '}
              {c.valLoss === undefined ? 'not evaluated' : formatNumber(c.valLoss)}
              <Show when={c.best}>
                {' '}
                <span class="state-badge" data-state="completed" title="lowest validation loss kept">
                  best
                </span>
              </Show>{' '}
              <a class="btn" href={playgroundHref(modelName(props.job.id, c.step))} data-testid="ft-chat">
                Chat with it
              </a>{' '}
              <Show when={lineage()?.baseModel}>
                {(base) => (
                  <>
                    <a
                      class="btn"
                      href={compareHref(base(), modelName(props.job.id, c.step))}
                      data-testid="ft-compare"
                      title="The same prompt on the base and on this checkpoint, side by side, with the same settings"
                    >
                      Compare with base
                    </a>{' '}
                  </>
                )}
              </Show>
              <details class="inline">
                <summary>Files</summary>
                <code data-testid="ft-checkpoint-dir">{c.dir}</code>
                <div class="muted">
                  The merged model as a Hugging Face folder
                  {lineage()?.adapter !== 'full'
                    ? '; the adapter alone in PEFT’s format under adapter/ (adapter_config.json, adapter_model.safetensors)'
                    : ''}
                  .
                </div>
              </details>
            </li>
          )}
        </For>
      </ul>
    </div>
  );
}

export default function FinetuneJob(props: { id: string; onChanged: () => void }) {
  const [job, setJob] = createSignal<TrainJobDetail>();
  const [state, setState] = createSignal('');
  const [stream, setStream] = createSignal<StreamState>('connecting');
  const [lossPoints, setLossPoints] = createSignal(0);
  const [valPoints, setValPoints] = createSignal(0);
  const [step, setStep] = createSignal(0);
  const [lastLoss, setLastLoss] = createSignal<number>();
  const [elapsed, setElapsed] = createSignal<number>();
  const [sample, setSample] = createSignal<{ step: number; text: string }>();
  const [actionError, setActionError] = createSignal<string>();
  const [acting, setActing] = createSignal(false);
  const [prefPoints, setPrefPoints] = createSignal(0);
  const [lastPref, setLastPref] = createSignal<Preference>();
  let loss: LineChartHandle | undefined;
  let val: LineChartHandle | undefined;
  let rewards: LineChartHandle | undefined;
  let accuracy: LineChartHandle | undefined;
  // The DPO charts appear once the job is known to be DPO, after the first events may have arrived: they are
  // drawn from this history when they mount.
  const prefHistory: { step: number; pref: Preference; eval: boolean }[] = [];

  const refresh = async () => {
    try {
      const j = (await trainApi.get(props.id)) as TrainJobDetail;
      setJob(j);
      if (!state() || isTerminal(j.state)) setState(j.state);
    } catch {
      // the next poll tries again
    }
  };

  const follow = followJob(
    props.id,
    (e) => {
      // DPO's steps and evaluations carry the implicit rewards and the preference accuracy.
      const pref = (e as { preference?: Preference }).preference;
      if (pref && e.kind === 'step') {
        prefHistory.push({ step: e.step, pref, eval: false });
        rewards?.append(e.step, [pref.chosenReward, pref.rejectedReward, pref.margin]);
        accuracy?.append(e.step, [pref.accuracy, null]);
        setPrefPoints((n) => n + 1);
        setLastPref(pref);
      } else if (pref && e.kind === 'eval') {
        prefHistory.push({ step: e.step, pref, eval: true });
        accuracy?.append(e.step, [null, pref.accuracy]);
      }
      if (e.kind === 'step' && e.loss !== undefined) {
        loss?.append(e.step, [e.loss]);
        setLossPoints((n) => n + 1);
        setStep(e.step);
        setLastLoss(e.loss);
        if (e.elapsedSeconds !== undefined) setElapsed(e.elapsedSeconds);
      } else if (e.kind === 'eval') {
        if (e.valLoss !== undefined) {
          val?.append(e.step, [e.valLoss, e.trainLoss ?? null]);
          setValPoints((n) => n + 1);
        }
        if (e.sample) setSample({ step: e.step, text: e.sample });
      }
      if (e.state) setState(e.state);
      if (e.kind === 'state') {
        void refresh();
        props.onChanged();
      }
    },
    setStream,
  );
  void refresh();
  const poll = setInterval(() => {
    if (!isTerminal(state()) || !job() || !isTerminal(job()?.state ?? '')) void refresh();
  }, 2000);
  onCleanup(() => {
    clearInterval(poll);
    follow.close();
  });

  const act = async (verb: 'cancel' | 'pause' | 'resume') => {
    setActionError(undefined);
    setActing(true);
    try {
      const j = (await trainApi.action(props.id, verb)) as TrainJobDetail;
      setJob(j);
      setState(j.state);
      props.onChanged();
      if (verb === 'resume') follow.reopen();
    } catch (err) {
      setActionError(errorText(err));
    } finally {
      setActing(false);
    }
  };
  const s = () => state() || job()?.state || '';
  const pending = () => !!job()?.pendingAction;

  return (
    <div class="card" data-testid="ft-job" data-job={props.id}>
      <div class="card-head">
        <h2>{job()?.name || props.id}</h2>
        <span class="state-badge" data-testid="ft-job-state" data-state={s()}>
          {s()}
        </span>
        <span class="muted small">
          step {(step() || job()?.step || 0).toLocaleString()} / {(job()?.iters ?? 0).toLocaleString()}
          <Show when={lastLoss() !== undefined}> · loss {formatNumber(lastLoss())}</Show>
          <Show when={elapsed() !== undefined}> · {formatDuration(elapsed() ?? 0)} elapsed</Show>
          {' · stream '}
          {stream()}
        </span>
        <span class="spacer" />
        <button
          type="button"
          class="btn"
          data-testid="ft-pause"
          disabled={acting() || pending() || !['running', 'queued'].includes(s())}
          onClick={() => act('pause')}
        >
          Pause
        </button>
        <button
          type="button"
          class="btn"
          data-testid="ft-resume"
          disabled={acting() || pending() || s() !== 'paused'}
          onClick={() => act('resume')}
        >
          Resume
        </button>
        <button
          type="button"
          class="btn"
          data-testid="ft-cancel"
          disabled={acting() || isTerminal(s()) || job()?.pendingAction === 'cancel'}
          onClick={() => act('cancel')}
        >
          Cancel
        </button>
      </div>
      <Show when={actionError()}>
        <div class="banner error small" role="alert">
          {actionError()}
        </div>
      </Show>
      <Show when={job()?.error}>
        <div class="banner error small" data-testid="ft-job-error">
          {job()?.error}
        </div>
      </Show>
      <p class="muted small">
        The loss counts only the answer tokens (the prompt is masked). Validation loss is measured on held-out
        examples: if it rises while the training loss keeps falling, the adapter is memorising its examples.
      </p>
      <div class="charts">
        <div data-testid="ft-chart-loss" data-points={lossPoints()}>
          <LineChart
            title="Training loss"
            xLabel="step"
            series={[{ label: 'train loss' }]}
            ref={(h) => {
              loss = h;
            }}
          />
        </div>
        <div data-testid="ft-chart-val" data-points={valPoints()}>
          <LineChart
            title="Validation loss"
            xLabel="step"
            series={[
              { label: 'val loss', color: '#e8684a', width: 2 },
              { label: 'train loss (same evaluation)', color: '#4f6bed', dash: [4, 4] },
            ]}
            ref={(h) => {
              val = h;
            }}
          />
        </div>
      </div>
      <Show when={lineageOf(job() ?? { request: {} })?.method !== 'sft' || prefPoints() > 0}>
        <p class="muted small">
          DPO’s implicit reward of an answer is β·(log π − log π_ref): how much more likely the policy makes
          it than the frozen reference does. Training pushes the chosen answers’ reward above the rejected
          ones’; accuracy is the share of pairs where it already is.
          <Show when={lastPref()}>
            {(p) => (
              <span data-testid="ft-pref-latest">
                {' '}
                Latest: margin {formatNumber(p().margin)}, accuracy {(p().accuracy * 100).toFixed(0)}%.
              </span>
            )}
          </Show>
        </p>
        <div class="charts">
          <div data-testid="ft-chart-rewards" data-points={prefPoints()}>
            <LineChart
              title="Rewards (DPO)"
              xLabel="step"
              series={[
                { label: 'chosen', color: '#2f9e44', width: 2 },
                { label: 'rejected', color: '#e8684a', width: 2 },
                { label: 'margin', color: '#4f6bed', dash: [4, 4] },
              ]}
              ref={(h) => {
                rewards = h;
                for (const p of prefHistory)
                  if (!p.eval) h.append(p.step, [p.pref.chosenReward, p.pref.rejectedReward, p.pref.margin]);
              }}
            />
          </div>
          <div data-testid="ft-chart-accuracy" data-points={prefPoints()}>
            <LineChart
              title="Preference accuracy"
              xLabel="step"
              series={[
                { label: 'train (step)', color: '#4f6bed' },
                { label: 'validation', color: '#e8684a', width: 2 },
              ]}
              ref={(h) => {
                accuracy = h;
                for (const p of prefHistory)
                  h.append(p.step, p.eval ? [null, p.pref.accuracy] : [p.pref.accuracy, null]);
              }}
            />
          </div>
        </div>
      </Show>
      <h3 class="small">
        Latest sample
        <Show when={sample()}>{(x) => <span class="muted"> (step {x().step})</span>}</Show>
      </h3>
      <div class="sample" data-testid="ft-sample">
        {sample()?.text || <span class="muted">No sample yet: one is generated at each evaluation.</span>}
      </div>
      <h3 class="small">Checkpoints and lineage</h3>
      <Show when={job()}>{(j) => <CheckpointList job={j()} />}</Show>
      <Show when={job()?.state === 'completed' && job()?.checkpoints.length ? job() : undefined}>
        {(j) => (
          <>
            <EosSurvivalCheck job={j()} />
            <Forgetting job={j()} />
          </>
        )}
      </Show>
    </div>
  );
}
