// One fine-tuning job: live training and validation loss from the job's event stream, the latest sample, the
// controls, and its checkpoints with their lineage and a "Chat with it" link into the Playground.
import { createMemo, createSignal, For, onCleanup, Show } from 'solid-js';
import { errorText, trainApi } from '../../api.ts';
import LineChart, { formatNumber, type LineChartHandle } from '../../components/LineChart.tsx';
import { modelName } from '../train/Checkpoints.tsx';
import { checkpointsOf, formatDuration, type TrainJobDetail } from '../train/types.ts';
import { lineageOf } from './api.ts';
import LineageTable from './Lineage.tsx';
import { followJob, isTerminal, type StreamState } from './stream.ts';

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
  let loss: LineChartHandle | undefined;
  let val: LineChartHandle | undefined;

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
      <h3 class="small">
        Latest sample
        <Show when={sample()}>{(x) => <span class="muted"> (step {x().step})</span>}</Show>
      </h3>
      <div class="sample" data-testid="ft-sample">
        {sample()?.text || <span class="muted">No sample yet: one is generated at each evaluation.</span>}
      </div>
      <h3 class="small">Checkpoints and lineage</h3>
      <Show when={job()}>{(j) => <CheckpointList job={j()} />}</Show>
    </div>
  );
}
