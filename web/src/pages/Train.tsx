import { createEffect, createResource, createSignal, For, on, onCleanup, Show } from 'solid-js';
import { createStore, reconcile } from 'solid-js/store';
import {
  ApiError,
  api,
  dataApi,
  errorText,
  type SubmitTrainJob,
  type TrainEvent,
  type TrainJob,
  type TrainJobState,
  trainApi,
} from '../api.ts';
import LineChart, { formatNumber, type LineChartHandle } from '../components/LineChart.tsx';
import { type EstimateRequest, type FullEstimate, type RunWarning, trainPageApi } from './train/api.ts';
import Checkpoints from './train/Checkpoints.tsx';
import { makeShards, shardKeys } from './train/readiness.ts';
import Timeline from './train/Timeline.tsx';
import {
  type EvalEvent,
  eta,
  formatDuration,
  type TrainConfigWithRetention,
  type TrainJobDetail,
} from './train/types.ts';

/** Shown until the gateway lists its presets (and if it cannot). */
const FALLBACK_PRESETS = ['nanogpt-cpu', 'nanogpt-shakespeare', 'llama-small', 'gpt2-small', 'gpt2-medium'];
const TERMINAL: TrainJobState[] = ['completed', 'failed', 'cancelled'];
const isTerminal = (s: string) => (TERMINAL as string[]).includes(s);

const bytes = (n: number) => {
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  // Gigabytes with a decimal, as the warnings and the machine's memory are written (59.7 GB of 23.5 GB).
  return `${v.toFixed((v < 10 && i) || i >= 3 ? 1 : 0)} ${u[i]}`;
};

/** Exact counts (a parameter count is compared with the job's, digit for digit). */
const count = (n: number) => n.toLocaleString('en');

/** Advanced fields. Model fields hold the preset's values until changed; empty = the default. */
interface Advanced {
  nLayer: string;
  nHead: string;
  nEmbd: string;
  ffnHidden: string;
  context: string;
  batchSize: string;
  learningRate: string;
  warmupIters: string;
  schedule: '' | 'cosine' | 'linear' | 'constant';
  evalInterval: string;
  seed: string;
  keepLast: string;
}

/** Model fields of the form and where each sits in a preset. */
const SHAPE = {
  nLayer: 'nLayer',
  nHead: 'nHead',
  nEmbd: 'nEmbd',
  ffnHidden: 'ffnHidden',
  context: 'context',
} as const;
type ShapeField = keyof typeof SHAPE;

/** Form input (its name) showing an error about a request field (its path in the gateway's answer). */
function inputFor(field: string): string | undefined {
  const model = /^config\.(?:model|modelJson)\.(\w+)$/.exec(field)?.[1];
  if (model) return model === 'nKvHead' ? 'nHead' : model in SHAPE ? model : undefined;
  const direct: Record<string, string> = {
    name: 'name',
    tokenizer: 'tokenizer',
    dataPath: 'dataPath',
    datasetId: 'dataset',
    datasetVersion: 'dataset',
    'config.preset': 'preset',
    'config.modelJson': 'nLayer',
    'config.iters': 'iters',
    'config.context': 'context',
    'config.batchSize': 'batchSize',
    'config.learningRate': 'learningRate',
    'config.minLearningRate': 'learningRate',
    'config.warmupIters': 'warmupIters',
    'config.schedule': 'schedule',
    'config.evalInterval': 'evalInterval',
    'config.seed': 'seed',
    'config.keepLast': 'keepLast',
  };
  return direct[field];
}

const ADVANCED_INPUTS = new Set<string>([
  ...Object.keys(SHAPE),
  'batchSize',
  'learningRate',
  'warmupIters',
  'schedule',
  'evalInterval',
  'seed',
  'keepLast',
]);

function TrainForm(props: { onSubmitted: (id: string) => void }) {
  const [name, setName] = createSignal('');
  const [preset, setPreset] = createSignal('nanogpt-cpu');
  const [tokenizer, setTokenizer] = createSignal('char');
  const [iters, setIters] = createSignal(2000);
  const [source, setSource] = createSignal<'dataset' | 'path'>('dataset');
  const [datasetKey, setDatasetKey] = createSignal('');
  const [dataPath, setDataPath] = createSignal('');
  const [adv, setAdv] = createSignal<Advanced>({
    nLayer: '',
    nHead: '',
    nEmbd: '',
    ffnHidden: '',
    context: '',
    batchSize: '',
    learningRate: '',
    warmupIters: '',
    schedule: '',
    evalInterval: '',
    seed: '',
    keepLast: '',
  });
  const [keepBest, setKeepBest] = createSignal(true);
  const [error, setError] = createSignal<string>();
  /** A server error about one field: shown under that field until the field changes. */
  const [fieldError, setFieldError] = createSignal<{ input: string; message: string }>();
  const touched = (input: string) => {
    if (fieldError()?.input === input) setFieldError(undefined);
  };
  const setA = (k: keyof Advanced, v: string) => {
    touched(k);
    setAdv({ ...adv(), [k]: v });
  };
  const [busy, setBusy] = createSignal(false);
  let advanced: HTMLDetailsElement | undefined;
  let form: HTMLFormElement | undefined;

  const [presets] = createResource(() =>
    trainPageApi
      .presets()
      .then((r) => r.presets)
      .catch(() => undefined),
  );
  const shapeOf = (p: string) => presets()?.find((x) => x.name === p);
  /**
   * The chosen preset's real shape in the model fields, replacing whatever the last preset left there; when
   * the presets arrive (`keepTyped`), only fields still empty, so nothing typed meanwhile is lost.
   */
  const fillShape = (p: string, keepTyped = false) => {
    const shape = shapeOf(p);
    const next = { ...adv() };
    for (const k of Object.keys(SHAPE) as ShapeField[]) {
      if (keepTyped && next[k].trim() !== '') continue;
      next[k] = shape ? String(shape[SHAPE[k]]) : '';
      touched(k);
    }
    setAdv(next);
  };
  createEffect(on(presets, () => fillShape(preset(), true)));

  const [datasets, { refetch }] = createResource(() =>
    dataApi
      .list()
      .then((r) => r.datasets)
      .catch(() => []),
  );
  const [tokenizers] = createResource(() =>
    api
      .tokenizers()
      .then((r) => r.tokenizers.map((t) => t.name))
      .catch(() => [] as string[]),
  );
  // Which versions have shards for which tokenizer (svc-data's dependents list each shard folder).
  const [shards, { refetch: refetchShards }] = createResource(
    () => (datasets() ?? []).map((d) => d.id),
    (ids) => shardKeys(ids),
  );
  /** True/false when known for the chosen tokenizer, undefined while unknown. */
  const ready = (key: string): boolean | undefined => {
    const s = shards();
    return s ? s.has(`${key}/${tokenizer()}`) : undefined;
  };
  const versionOptions = () =>
    (datasets() ?? []).flatMap((d) =>
      [...d.versions]
        .sort((a, b) => b.version - a.version)
        .map((v) => {
          const key = `${d.id}@${v.version}`;
          const r = ready(key);
          const mark = r === undefined ? '' : r ? ' — ready' : ` — no ${tokenizer()} shards`;
          return {
            key,
            ready: r,
            label: `${d.name} v${v.version} (${v.step}, ${v.documents.toLocaleString()} docs)${mark}`,
          };
        }),
    );
  const [shardBusy, setShardBusy] = createSignal<string>();
  const [shardError, setShardError] = createSignal<string>();
  const makeShardsHere = async () => {
    const [id, v] = datasetKey().split('@');
    if (!id) return;
    setShardError(undefined);
    setShardBusy('starting');
    try {
      await makeShards(id, Number(v), tokenizer(), (m) => setShardBusy(m || 'tokenizing'));
      await refetchShards();
    } catch (err) {
      setShardError(errorText(err));
    } finally {
      setShardBusy(undefined);
    }
  };

  const config = (): TrainConfigWithRetention => {
    const a = adv();
    const n = (s: string) => (s.trim() === '' ? undefined : Number(s));
    // Only what differs from the preset is an override: the job then records the preset's name, and a
    // preset's own shape is never sent back as if the user had chosen it.
    const shape = shapeOf(preset());
    const changed = (k: ShapeField) => {
      const v = n(a[k]);
      return v !== undefined && v !== shape?.[SHAPE[k]] ? v : undefined;
    };
    const model: Record<string, number> = {};
    for (const k of ['nLayer', 'nHead', 'nEmbd', 'ffnHidden'] as const) {
      const v = changed(k);
      if (v !== undefined) model[k] = v;
    }
    const c: TrainConfigWithRetention = { preset: preset(), iters: iters(), keepBest: keepBest() };
    if (Object.keys(model).length) c.model = model;
    if (changed('context') !== undefined) c.context = changed('context');
    if (n(a.batchSize) !== undefined) c.batchSize = n(a.batchSize);
    if (n(a.learningRate) !== undefined) c.learningRate = n(a.learningRate);
    if (n(a.warmupIters) !== undefined) c.warmupIters = n(a.warmupIters);
    if (a.schedule) c.schedule = a.schedule;
    if (n(a.evalInterval) !== undefined) c.evalInterval = n(a.evalInterval);
    if (n(a.seed) !== undefined) c.seed = n(a.seed);
    if (n(a.keepLast) !== undefined) c.keepLast = n(a.keepLast);
    return c;
  };

  /** The data of the run, as the job request and the estimate name it. */
  const dataOf = (): { datasetId?: string; datasetVersion?: number; dataPath?: string } => {
    if (source() === 'path') return dataPath().trim() ? { dataPath: dataPath().trim() } : {};
    const [id, v] = datasetKey().split('@');
    return id ? { datasetId: id, datasetVersion: Number(v) } : {};
  };

  /** What the estimate is asked: the model, batch and steps, and the tokenizer and data that size the vocabulary. */
  const estimateBody = (): EstimateRequest => {
    const { iters: steps, keepLast: _k, keepBest: _b, ...body } = config();
    return {
      ...body,
      ...(Number.isInteger(steps) && steps >= 1 ? { iters: steps } : {}),
      tokenizer: tokenizer(),
      ...dataOf(),
    };
  };

  // The estimate follows the form (debounced); a gateway without the endpoint says so once.
  const [estimate, setEstimate] = createSignal<FullEstimate>();
  const [estimateNote, setEstimateNote] = createSignal<string>();
  let estTimer: ReturnType<typeof setTimeout> | undefined;
  let estAbort: AbortController | undefined;
  createEffect(
    on(estimateBody, (body) => {
      clearTimeout(estTimer);
      estTimer = setTimeout(async () => {
        estAbort?.abort();
        estAbort = new AbortController();
        try {
          setEstimate(await trainPageApi.estimate(body, { signal: estAbort.signal }));
          setEstimateNote(undefined);
        } catch (err) {
          if (err instanceof DOMException && err.name === 'AbortError') return;
          setEstimate(undefined);
          setEstimateNote(
            err instanceof ApiError && err.status === 404
              ? 'The estimate is not available from this gateway yet.'
              : err instanceof ApiError && err.field && inputFor(err.field)
                ? `No estimate: ${err.message}`
                : errorText(err),
          );
        }
      }, 250);
    }),
  );
  onCleanup(() => {
    clearTimeout(estTimer);
    estAbort?.abort();
  });

  // Runs past the machine's memory or a day of compute start only once confirmed here.
  const [confirming, setConfirming] = createSignal<RunWarning[]>();
  let dialog: HTMLDialogElement | undefined;
  createEffect(() => {
    if (confirming()) dialog?.showModal();
    else if (dialog?.open) dialog.close();
  });

  const request = (): SubmitTrainJob => {
    const body: SubmitTrainJob = { tokenizer: tokenizer(), config: config(), ...dataOf() };
    if (name().trim()) body.name = name().trim();
    return body;
  };

  const start = async () => {
    const body = request();
    setConfirming(undefined);
    setBusy(true);
    try {
      const r = await trainApi.submit(body);
      props.onSubmitted(r.id);
    } catch (err) {
      const input = err instanceof ApiError && err.field ? inputFor(err.field) : undefined;
      if (err instanceof ApiError && input) {
        setFieldError({ input, message: err.message });
        if (ADVANCED_INPUTS.has(input) && advanced) advanced.open = true;
        form?.querySelector<HTMLElement>(`[name="${input}"]`)?.focus();
      } else setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    setError(undefined);
    setFieldError(undefined);
    if (source() === 'dataset' && !datasetKey())
      return setError('Pick a dataset version (make one on the Data page), or give a server path.');
    // The shown estimate may be a keystroke old: ask again for exactly what is about to start.
    setBusy(true);
    let fresh: FullEstimate | undefined;
    try {
      fresh = await trainPageApi.estimate(estimateBody(), { timeoutMs: 10_000 });
      setEstimate(fresh);
    } catch {
      // no estimate (an invalid field, an old gateway): the submission answers for itself
    } finally {
      setBusy(false);
    }
    if (fresh?.warnings.length) return setConfirming(fresh.warnings);
    await start();
  };

  /** The server's sentence under the field it names. */
  const FieldError = (p: { input: string }) => (
    <Show when={fieldError()?.input === p.input ? fieldError() : undefined}>
      {(f) => (
        <span
          class="error-text small field-error"
          role="alert"
          data-testid="train-field-error"
          data-field={p.input}
        >
          {f().message}
        </span>
      )}
    </Show>
  );
  const invalid = (input: string) => (fieldError()?.input === input ? 'true' : undefined);

  const advInput = (k: keyof Advanced, label: string, placeholder: string, step = '1') => (
    <label>
      {label}
      <input
        type="number"
        name={k}
        step={step}
        min="0"
        placeholder={placeholder}
        value={adv()[k]}
        aria-invalid={invalid(k)}
        onInput={(e) => setA(k, e.currentTarget.value)}
      />
      <FieldError input={k} />
    </label>
  );

  const memoryShare = (est: FullEstimate) =>
    est.machine.memoryBytes ? ` of this machine’s ${bytes(est.machine.memoryBytes)}` : '';

  return (
    <div class="card">
      <div class="card-head">
        <h2>New pre-training run</h2>
      </div>
      <form class="form" data-testid="train-form" onSubmit={submit} ref={form}>
        <div class="preset-grid">
          <label>
            Name
            <input
              name="name"
              value={name()}
              placeholder="optional"
              aria-invalid={invalid('name')}
              onInput={(e) => {
                touched('name');
                setName(e.currentTarget.value);
              }}
            />
            <FieldError input="name" />
          </label>
          <label>
            Preset
            <select
              name="preset"
              value={preset()}
              aria-invalid={invalid('preset')}
              onChange={(e) => {
                touched('preset');
                setPreset(e.currentTarget.value);
                fillShape(e.currentTarget.value);
              }}
            >
              <For each={presets()?.map((p) => p.name) ?? FALLBACK_PRESETS}>
                {(p) => <option value={p}>{p}</option>}
              </For>
            </select>
            <FieldError input="preset" />
          </label>
          <label>
            Tokenizer
            <select
              name="tokenizer"
              value={tokenizer()}
              aria-invalid={invalid('tokenizer')}
              onChange={(e) => {
                touched('tokenizer');
                setTokenizer(e.currentTarget.value);
              }}
            >
              <For each={Array.from(new Set(['char', ...(tokenizers() ?? [])]))}>
                {(t) => <option value={t}>{t}</option>}
              </For>
            </select>
            <FieldError input="tokenizer" />
          </label>
          <label>
            Steps (iters)
            <input
              name="iters"
              type="number"
              min="1"
              required
              value={iters()}
              aria-invalid={invalid('iters')}
              onInput={(e) => {
                touched('iters');
                setIters(e.currentTarget.valueAsNumber);
              }}
            />
            <FieldError input="iters" />
          </label>
        </div>
        <fieldset class="radio-row">
          <legend>Data</legend>
          <label class="inline">
            <input
              type="radio"
              name="source"
              value="dataset"
              checked={source() === 'dataset'}
              onChange={() => setSource('dataset')}
            />{' '}
            a dataset version
          </label>
          <label class="inline">
            <input
              type="radio"
              name="source"
              value="path"
              checked={source() === 'path'}
              onChange={() => setSource('path')}
            />{' '}
            a text file on the server
          </label>
        </fieldset>
        <Show
          when={source() === 'dataset'}
          fallback={
            <label>
              Server path
              <input
                name="dataPath"
                required
                value={dataPath()}
                placeholder="/path/to/input.txt"
                aria-invalid={invalid('dataPath')}
                onInput={(e) => {
                  touched('dataPath');
                  setDataPath(e.currentTarget.value);
                }}
              />
              <FieldError input="dataPath" />
            </label>
          }
        >
          <label>
            Dataset version{' '}
            <span class="muted small">(tokenized into shards with the same tokenizer on the Data page)</span>
            <select
              name="dataset"
              value={datasetKey()}
              aria-invalid={invalid('dataset')}
              onFocus={() => refetch()}
              onChange={(e) => {
                touched('dataset');
                setDatasetKey(e.currentTarget.value);
              }}
            >
              <option value="">— pick one —</option>
              <For each={versionOptions()}>
                {(o) => (
                  <option
                    value={o.key}
                    data-ready={o.ready === undefined ? 'unknown' : o.ready ? 'true' : 'false'}
                  >
                    {o.label}
                  </option>
                )}
              </For>
            </select>
            <FieldError input="dataset" />
          </label>
          <Show when={datasetKey() && ready(datasetKey()) === false}>
            <div class="banner small" data-testid="train-not-ready">
              This version has no shards for the {tokenizer()} tokenizer yet, so a run would fail.{' '}
              <button
                type="button"
                class="btn"
                data-testid="train-make-shards"
                disabled={!!shardBusy()}
                onClick={makeShardsHere}
              >
                {shardBusy() ? `Making shards… ${shardBusy()}` : 'Make shards'}
              </button>
            </div>
          </Show>
          <Show when={shardError()}>
            <div class="banner error small" role="alert">
              {shardError()}
            </div>
          </Show>
        </Show>
        <details class="advanced" ref={advanced}>
          <summary>Advanced (the model fields show the preset’s shape; empty = the default)</summary>
          <div class="preset-grid">
            {advInput('nLayer', 'Layers', 'preset')}
            {advInput('nHead', 'Heads', 'preset')}
            {advInput('nEmbd', 'Width', 'preset')}
            {advInput('ffnHidden', 'FFN width', 'preset')}
            {advInput('context', 'Context', 'preset')}
            {advInput('batchSize', 'Batch', '12')}
            {advInput('learningRate', 'Learning rate', '1e-3', 'any')}
            {advInput('warmupIters', 'Warm-up steps', '0')}
            <label>
              Schedule
              <select
                name="schedule"
                value={adv().schedule}
                aria-invalid={invalid('schedule')}
                onChange={(e) => setA('schedule', e.currentTarget.value)}
              >
                <option value="">cosine (default)</option>
                <option value="cosine">cosine</option>
                <option value="linear">linear</option>
                <option value="constant">constant</option>
              </select>
              <FieldError input="schedule" />
            </label>
            {advInput('evalInterval', 'Eval every', 'iters/10')}
            {advInput('seed', 'Seed', '1337')}
            {advInput('keepLast', 'Keep newest checkpoints', '2')}
            <label class="inline">
              <input
                type="checkbox"
                name="keepBest"
                checked={keepBest()}
                onChange={(e) => setKeepBest(e.currentTarget.checked)}
              />{' '}
              also keep the best val loss
            </label>
          </div>
          <p class="muted small" data-testid="train-retention">
            Checkpoints kept: the newest {adv().keepLast.trim() || '2'}
            {keepBest() ? ' plus the one with the best validation loss' : ''}.
          </p>
        </details>
        <div class="small" data-testid="train-estimate">
          <Show when={estimate()} fallback={<span class="muted">{estimateNote() ?? 'Estimating…'}</span>}>
            {(est) => (
              <>
                <b data-testid="train-estimate-parameters">{count(est().parameters.total)}</b> parameters
                (embeddings {count(est().parameters.embeddings)}, attention{' '}
                {count(est().parameters.attention)}, MLP {count(est().parameters.mlp)}
                <Show when={est().vocabSize}>
                  ; vocabulary {count(est().vocabSize)}
                  {est().vocabSource === 'preset' ? ', the preset’s until the data is chosen' : ''}
                </Show>
                ) · memory <b data-testid="train-estimate-memory">{bytes(est().memory.total)}</b>
                {memoryShare(est())} (weights {bytes(est().memory.weights)}, optimizer{' '}
                {bytes(est().memory.optimizer)}, activations {bytes(est().memory.activations)}) · about{' '}
                <b>{formatNumber(est().secondsPerStep)} s</b> per step
                <Show when={est().totalSeconds}>
                  {' '}
                  × {count(iters())} steps ≈{' '}
                  <b data-testid="train-estimate-total">{formatDuration(est().totalSeconds)}</b> in all
                </Show>{' '}
                · {formatNumber(est().flopsPerToken.total)} FLOPs per token
                <Show when={est().warnings.length}>
                  <ul class="banner warn small train-warnings" data-testid="train-warnings">
                    <For each={est().warnings}>
                      {(w) => (
                        <li data-kind={w.kind} data-field={w.field}>
                          {w.message}
                        </li>
                      )}
                    </For>
                  </ul>
                </Show>
              </>
            )}
          </Show>
        </div>
        <div class="form-actions">
          <button type="submit" class="btn primary" data-testid="train-submit" disabled={busy()}>
            {busy() ? 'Starting…' : 'Start training'}
          </button>
        </div>
      </form>
      <Show when={error()}>
        <div class="banner error small" role="alert">
          {error()}
        </div>
      </Show>
      <dialog
        class="confirm-dialog"
        data-testid="train-confirm"
        ref={dialog}
        onClose={() => setConfirming(undefined)}
      >
        <h3>Start this run anyway?</h3>
        <ul>
          <For each={confirming() ?? []}>{(w) => <li data-kind={w.kind}>{w.message}</li>}</For>
        </ul>
        <div class="form-actions">
          <button
            type="button"
            class="btn"
            data-testid="train-confirm-cancel"
            onClick={() => setConfirming(undefined)}
          >
            Go back
          </button>
          <button
            type="button"
            class="btn danger"
            data-testid="train-confirm-start"
            onClick={() => void start()}
          >
            Start anyway
          </button>
        </div>
      </dialog>
    </div>
  );
}

/** One job: live curves from the SSE stream (deduplicated by seq), sample, controls and checkpoints. */
function JobView(props: { id: string; onChanged: () => void }) {
  const [job, setJob] = createSignal<TrainJobDetail>();
  const [evals, setEvals] = createSignal<EvalEvent[]>([]);
  /** First step point this page saw after the run (re)started: the pace of the ETA is measured from it. */
  let paceFrom: { step: number; elapsed: number } | undefined;
  const [state, setState] = createSignal<string>('');
  const [lossPoints, setLossPoints] = createSignal(0);
  const [latest, setLatest] = createSignal<TrainEvent>();
  const [sample, setSample] = createSignal<string>('');
  const [stream, setStream] = createSignal<'connecting' | 'live' | 'reconnecting' | 'closed'>('connecting');
  const [actionError, setActionError] = createSignal<string>();
  const [acting, setActing] = createSignal(false);

  let loss: LineChartHandle | undefined;
  let lr: LineChartHandle | undefined;
  let grad: LineChartHandle | undefined;
  let tps: LineChartHandle | undefined;
  /** Highest seq drawn: events at or below it (replays after a reconnect) are ignored. */
  let lastSeq = 0;
  let es: EventSource | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let disposed = false;

  // Counters and the latest event reach the DOM once per frame, however fast a history replay streams in.
  let points = 0;
  let newest: TrainEvent | undefined;
  let flushFrame = 0;
  const flush = () => {
    flushFrame = 0;
    setLossPoints(points);
    if (newest) setLatest(newest);
  };
  const scheduleFlush = () => {
    if (!flushFrame) flushFrame = requestAnimationFrame(flush);
  };

  const onEvent = (msg: MessageEvent<string>) => {
    let e: TrainEvent;
    try {
      e = JSON.parse(msg.data) as TrainEvent;
    } catch {
      return;
    }
    if (typeof e.seq !== 'number' || e.seq <= lastSeq) return;
    lastSeq = e.seq;
    setStream('live');
    if (e.kind === 'step') {
      if (e.loss !== undefined) {
        loss?.append(e.step, [e.loss, null]);
        points++;
      }
      if (e.lr !== undefined) lr?.append(e.step, [e.lr]);
      if (e.gradNorm !== undefined) grad?.append(e.step, [e.gradNorm]);
      if (e.tokensPerSecond !== undefined) tps?.append(e.step, [e.tokensPerSecond]);
      if (e.elapsedSeconds !== undefined && (!paceFrom || e.step <= paceFrom.step))
        paceFrom = { step: e.step, elapsed: e.elapsedSeconds };
      newest = e;
      scheduleFlush();
    } else if (e.kind === 'eval') {
      if (e.valLoss !== undefined) loss?.append(e.step, [null, e.valLoss]);
      if (e.sample) setSample(e.sample);
      // A resumed run re-evaluates no step already stored, so each step appears once; keep it that way anyway.
      setEvals((l) => [...l.filter((x) => x.step !== e.step), e].sort((a, b) => a.step - b.step));
    }
    // A resume restarts the pace measurement (the time paused does not count, the first steps are slower).
    if (e.kind === 'state' && e.state === 'running') paceFrom = undefined;
    if (e.state) setState(e.state);
    if (e.kind === 'state') {
      void refresh();
      props.onChanged();
      if (isTerminal(e.state)) close();
    }
  };

  const close = () => {
    clearTimeout(retry);
    es?.close();
    es = undefined;
    setStream('closed');
  };

  const connect = () => {
    if (disposed) return;
    es?.close();
    // A fresh EventSource (after the browser gave up) resumes after the last drawn event with ?after=.
    const src = new EventSource(`${trainApi.eventsUrl(props.id)}${lastSeq ? `?after=${lastSeq}` : ''}`);
    es = src;
    for (const kind of ['step', 'eval', 'state', 'message'])
      src.addEventListener(kind, onEvent as EventListener);
    src.onopen = () => setStream('live');
    src.onerror = (ev) => {
      if (es !== src) return;
      if (ev instanceof MessageEvent && ev.data) return; // a server-sent `error` message; the stream goes on
      if (isTerminal(state())) return close();
      // Open or connecting: the browser retries by itself with Last-Event-ID. Closed: retry ourselves.
      setStream('reconnecting');
      if (src.readyState === EventSource.CLOSED) {
        clearTimeout(retry);
        retry = setTimeout(connect, 2000);
      }
    };
  };

  const refresh = async () => {
    try {
      const j = await trainApi.get(props.id);
      setJob(j);
      if (!state() || isTerminal(j.state) || j.state !== state()) setState(j.state);
      if (isTerminal(j.state) && es && lastSeq >= j.lastSeq) close();
    } catch {
      // the next poll tries again
    }
  };

  void refresh();
  connect();
  const poll = setInterval(refresh, 2000);
  onCleanup(() => {
    disposed = true;
    clearInterval(poll);
    cancelAnimationFrame(flushFrame);
    close();
  });

  const act = async (verb: 'cancel' | 'pause' | 'resume') => {
    setActionError(undefined);
    setActing(true);
    try {
      const j = await trainApi.action(props.id, verb);
      setJob(j);
      setState(j.state);
      props.onChanged();
      if (verb === 'resume' && !es) connect();
    } catch (err) {
      setActionError(errorText(err));
    } finally {
      setActing(false);
    }
  };
  const pending = () => !!job()?.pendingAction;
  const timing = () => {
    const l = latest();
    if (!l || l.elapsedSeconds === undefined) return undefined;
    const now = { step: l.step, elapsed: l.elapsedSeconds };
    const left = s() === 'running' ? eta(paceFrom, now, job()?.iters ?? 0) : undefined;
    return { elapsed: l.elapsedSeconds, left };
  };
  const s = () => state() || job()?.state || '';

  return (
    <div class="card" data-testid="job-view" data-job={props.id}>
      <div class="card-head">
        <h2>{job()?.name || props.id}</h2>
        <span class="state-badge" data-testid="job-state" data-state={s()}>
          {s()}
        </span>
        <Show when={job()?.pendingAction}>
          <span class="muted small">({job()?.pendingAction} requested)</span>
        </Show>
        <span class="muted small">
          step {(latest()?.step ?? job()?.step ?? 0).toLocaleString()} /{' '}
          {(job()?.iters ?? 0).toLocaleString()}
          <Show when={job()?.parameters}>
            {' · '}
            <span data-testid="job-parameters">{count(job()?.parameters ?? 0)}</span> parameters
          </Show>
          <Show when={latest()}>
            {(l) => (
              <>
                {' '}
                · loss {formatNumber(l().loss)} · {formatNumber(l().tokensPerSecond)} tokens/s
              </>
            )}
          </Show>
          <Show when={timing()}>
            {(t) => (
              <>
                {' · '}
                <span data-testid="job-elapsed">{formatDuration(t().elapsed)} elapsed</span>
                <Show when={t().left !== undefined}>
                  {' · '}
                  <span data-testid="job-eta">about {formatDuration(t().left ?? 0)} left</span>
                </Show>
              </>
            )}
          </Show>
          {' · stream '}
          {stream()}
        </span>
        <span class="spacer" />
        <button
          type="button"
          class="btn"
          data-testid="job-pause"
          disabled={acting() || pending() || !['running', 'queued'].includes(s())}
          onClick={() => act('pause')}
        >
          Pause
        </button>
        <button
          type="button"
          class="btn"
          data-testid="job-resume"
          disabled={acting() || pending() || s() !== 'paused'}
          onClick={() => act('resume')}
        >
          Resume
        </button>
        <button
          type="button"
          class="btn"
          data-testid="job-cancel"
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
        <div class="banner error small">{job()?.error}</div>
      </Show>
      <div class="charts">
        <div data-testid="chart-loss" data-points={lossPoints()}>
          <LineChart
            title="Loss"
            xLabel="step"
            series={[{ label: 'train loss' }, { label: 'val loss', width: 2 }]}
            ref={(h) => {
              loss = h;
            }}
          />
        </div>
        <div data-testid="chart-lr">
          <LineChart
            title="Learning rate"
            xLabel="step"
            series={[{ label: 'lr', color: '#2a9d8f' }]}
            ref={(h) => {
              lr = h;
            }}
          />
        </div>
        <div data-testid="chart-grad">
          <LineChart
            title="Gradient norm"
            xLabel="step"
            series={[{ label: 'grad norm', color: '#e8684a' }]}
            ref={(h) => {
              grad = h;
            }}
          />
        </div>
        <div data-testid="chart-tps">
          <LineChart
            title="Tokens / second"
            xLabel="step"
            series={[{ label: 'tokens/s', color: '#c77dff' }]}
            ref={(h) => {
              tps = h;
            }}
          />
        </div>
      </div>
      <h3 class="small">Latest sample</h3>
      <div class="sample" data-testid="job-sample">
        {sample() || <span class="muted">No sample yet: one is generated at each evaluation.</span>}
      </div>
      <h3 class="small">Evaluations</h3>
      <Timeline evals={evals()} />
      <h3 class="small">Checkpoints</h3>
      <Checkpoints job={job()} />
    </div>
  );
}

export default function TrainPage() {
  // A store reconciled by id: polling updates rows in place instead of rebuilding the table.
  const [jobs, setJobs] = createStore<TrainJob[]>([]);
  const [listError, setListError] = createSignal<string>();
  const refetch = async () => {
    try {
      const r = await trainApi.list();
      setJobs(reconcile(r.jobs, { key: 'id' }));
      setListError(undefined);
    } catch (err) {
      setListError(errorText(err));
    }
  };
  void refetch();
  const [selected, setSelected] = createSignal<string>();
  const poll = setInterval(() => void refetch(), 2000);
  onCleanup(() => clearInterval(poll));

  return (
    <div class="train-page">
      <TrainForm
        onSubmitted={(id) => {
          void refetch();
          setSelected(id);
        }}
      />
      <div class="card">
        <div class="card-head">
          <h2>Queue</h2>
        </div>
        <Show when={listError()}>
          <div class="banner error small">{listError()}</div>
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
              each={jobs}
              fallback={
                <tr>
                  <td colSpan={6} class="muted small">
                    No training jobs yet.
                  </td>
                </tr>
              }
            >
              {(j) => (
                <tr
                  class="job-row"
                  classList={{ selected: j.id === selected() }}
                  data-testid={`job-${j.id}`}
                  data-state={j.state}
                  onClick={() => setSelected(j.id)}
                >
                  <td>
                    {j.name || j.id} <span class="muted small">{j.id}</span>
                  </td>
                  <td>{j.state}</td>
                  <td>
                    {j.step.toLocaleString()} / {j.iters.toLocaleString()}
                  </td>
                  <td>{j.loss ? formatNumber(j.loss) : '—'}</td>
                  <td>{j.valLoss ? formatNumber(j.valLoss) : '—'}</td>
                  <td class="small">{new Date(j.createdAt).toLocaleTimeString()}</td>
                </tr>
              )}
            </For>
          </tbody>
        </table>
      </div>
      <Show when={selected()} keyed>
        {(id) => <JobView id={id} onChanged={() => void refetch()} />}
      </Show>
    </div>
  );
}
