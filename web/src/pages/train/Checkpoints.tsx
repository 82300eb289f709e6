// A job's kept checkpoints with step and validation loss, the retention rule that keeps them, and actions:
// sample here (svc-infer, `<job id>@<step>`), open in the Playground, download the Hugging Face folder as a
// .tar (the gateway streams the folder svc-infer names), and where that folder is on the server.
import { createMemo, createSignal, For, Show } from 'solid-js';
import { errorText, inferApi } from '../../api.ts';
import { formatCount, formatNumber } from '../../components/format.ts';
import { type CheckpointInfo, checkpointsOf, type TrainJobDetail } from './types.ts';

/** svc-infer's name for a checkpoint: the job id (always accepted) and the step. */
export const modelName = (jobId: string, step: number) => `${jobId}@${step}`;

/** The gateway route that streams a model's Hugging Face folder as `<name>.tar`. */
export const downloadUrl = (model: string) => `/api/infer/models/${encodeURIComponent(model)}/download`;

function CheckpointRow(props: { job: TrainJobDetail; c: CheckpointInfo }) {
  const [sample, setSample] = createSignal<string>();
  const [busy, setBusy] = createSignal(false);
  const [err, setErr] = createSignal<string>();
  const model = () => modelName(props.job.id, props.c.step);
  const sampleHere = async () => {
    setBusy(true);
    setErr(undefined);
    setSample('');
    const ctl = new AbortController();
    try {
      let text = '';
      for await (const e of inferApi.generate(
        { model: model(), prompt: '\n', params: { maxTokens: 64, temperature: 0.8, topK: 50 } },
        ctl.signal,
      )) {
        if (e.type === 'token') text += e.data.text;
        else if (e.type === 'done') text = e.data.text || text;
        setSample(text);
      }
    } catch (e) {
      setErr(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <li data-checkpoint={props.c.dir} data-step={props.c.step} data-best={props.c.best ? 'true' : 'false'}>
      step <b data-testid="checkpoint-step">{formatCount(props.c.step)}</b> · val loss{' '}
      <span data-testid="checkpoint-val-loss">
        {props.c.valLoss === undefined ? 'not evaluated' : formatNumber(props.c.valLoss)}
      </span>
      <Show when={props.c.best}>
        {' '}
        <span class="state-badge" data-state="completed" title="lowest validation loss kept">
          best
        </span>
      </Show>{' '}
      <button
        type="button"
        class="btn"
        data-testid="checkpoint-sample"
        disabled={busy()}
        onClick={sampleHere}
      >
        {busy() ? 'Sampling…' : 'Sample here'}
      </button>{' '}
      <a href={`#/playground?model=${encodeURIComponent(model())}`} data-testid="checkpoint-playground">
        Open in Playground
      </a>{' '}
      <a href={`#/attention?model=${encodeURIComponent(model())}`} data-testid="checkpoint-attention">
        Open in Attention
      </a>{' '}
      <a
        href={downloadUrl(model())}
        download=""
        data-testid="checkpoint-download"
        title="The Hugging Face folder (config.json, model.safetensors, tokenizer files, onnx/model.onnx) as a .tar; training resume state left out"
      >
        Download
      </a>{' '}
      <details class="inline">
        <summary>Hugging Face folder</summary>
        <code data-testid="checkpoint-dir">{props.c.dir}</code>
        <div class="muted">
          A complete model folder (config.json, model.safetensors, onnx/model.onnx, tokenizer files) on the
          machine running svc-train: download it (above), copy it, or load it with transformers.js.
        </div>
      </details>
      <Show when={sample() !== undefined && (sample() || busy())}>
        <div class="sample" data-testid="checkpoint-sample-text">
          {sample()}
        </div>
      </Show>
      <Show when={err()}>
        <div class="banner error small" role="alert">
          {err()}
        </div>
      </Show>
    </li>
  );
}

export default function Checkpoints(props: { job?: TrainJobDetail }) {
  // The job is fetched again every 2 s: rows keep their identity (and a sample made here) while a checkpoint
  // stays the same.
  let previous = new Map<string, CheckpointInfo>();
  const list = createMemo(() => {
    const next = new Map<string, CheckpointInfo>();
    const out = checkpointsOf(props.job).map((c) => {
      const old = previous.get(c.dir);
      const same = old && old.step === c.step && old.valLoss === c.valLoss && old.best === c.best;
      const keep = same ? old : c;
      next.set(c.dir, keep);
      return keep;
    });
    previous = next;
    return out;
  });
  return (
    <div data-testid="job-checkpoints" class="small">
      <p class="muted" data-testid="checkpoint-retention">
        Kept: {props.job?.retention || 'the newest 2 checkpoints'}; older ones are deleted once a newer one is
        complete.
      </p>
      <ul>
        <For each={list()} fallback={<li class="muted">none yet</li>}>
          {(c) => <CheckpointRow job={props.job!} c={c} />}
        </For>
      </ul>
    </div>
  );
}
