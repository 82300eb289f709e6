// The fine-tuning form: a base model of svc-infer's list, the data (a svc-data version or a file on the server),
// the method, the adapter (LoRA with rank, alpha, dropout and the base family's target modules, or full) and the
// hyper-parameters. A server error about one field is shown under that field.
import { createEffect, createMemo, createResource, createSignal, For, on, onCleanup, Show } from 'solid-js';
import { ApiError, dataApi, errorText, inferApi, type ModelInfo } from '../../api.ts';
import {
  type AdapterKind,
  type FinetuneConfig,
  type FinetuneEstimate,
  type FinetuneMethod,
  type FinetunePreview,
  type FinetuneTrainConfig,
  finetuneApi,
  inputFor,
  type SubmitFinetuneJob,
  TARGETS,
  targetFamily,
} from './api.ts';
import Estimate from './Estimate.tsx';
import Preview from './Preview.tsx';

/** svc-data formats whose records are instruction examples or conversations. */
const INSTRUCTION_FORMATS = ['alpaca', 'sharegpt', 'chatml'];

const count = (n: number) =>
  n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(0)}k` : String(n);

export default function FinetuneForm(props: {
  onSubmitted: (id: string) => void;
  /** Hands over the form's current request (the sweep recipe starts its jobs from it). */
  requestRef?: (get: () => SubmitFinetuneJob) => void;
}) {
  const [models, { refetch: refetchModels }] = createResource(() =>
    inferApi
      .models()
      .then((r) => r.models)
      .catch(() => [] as ModelInfo[]),
  );
  const [datasets, { refetch: refetchDatasets }] = createResource(() =>
    dataApi
      .list()
      .then((r) => r.datasets)
      .catch(() => []),
  );

  const [name, setName] = createSignal('');
  const [baseModel, setBaseModel] = createSignal('');
  const [source, setSource] = createSignal<'dataset' | 'path'>('dataset');
  const [datasetKey, setDatasetKey] = createSignal('');
  const [dataPath, setDataPath] = createSignal('');
  const [method, setMethod] = createSignal<FinetuneMethod>('sft');
  const [beta, setBeta] = createSignal('0.1');
  const [adapter, setAdapter] = createSignal<AdapterKind>('lora');
  const [rank, setRank] = createSignal('8');
  const [alpha, setAlpha] = createSignal('');
  const [dropout, setDropout] = createSignal('0.05');
  const [targets, setTargets] = createSignal<string[]>([]);
  const [iters, setIters] = createSignal('200');
  const [batchSize, setBatchSize] = createSignal('8');
  const [learningRate, setLearningRate] = createSignal('1e-3');
  const [context, setContext] = createSignal('');
  const [evalInterval, setEvalInterval] = createSignal('');
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal<string>();
  const [fieldError, setFieldError] = createSignal<{ input: string; message: string }>();
  const touched = (input: string) => {
    if (fieldError()?.input === input) setFieldError(undefined);
  };
  const invalid = (input: string) => (fieldError()?.input === input ? 'true' : undefined);
  let form: HTMLFormElement | undefined;

  // The first registered model is the natural base; otherwise the first listed.
  createEffect(
    on(models, (list) => {
      if (!list?.length || list.some((m) => m.name === baseModel())) return;
      setBaseModel((list.find((m) => m.source === 'registered') ?? list[0])?.name ?? '');
    }),
  );
  const base = createMemo(() => models()?.find((m) => m.name === baseModel()));
  const family = () => targetFamily(base()?.family ?? 'gpt2');
  // A new family resets the targets to its defaults (the old names mean nothing to it).
  createEffect(
    on(family, (f) => {
      touched('loraTargets');
      setTargets([...TARGETS[f].defaults]);
    }),
  );
  const toggleTarget = (t: string, on: boolean) => {
    touched('loraTargets');
    const all = TARGETS[family()].all;
    const next = new Set(targets());
    if (on) next.add(t);
    else next.delete(t);
    setTargets(all.filter((x) => next.has(x)));
  };

  const versionOptions = () =>
    (datasets() ?? []).flatMap((d) =>
      [...d.versions]
        .sort((a, b) => b.version - a.version)
        .map((v) => ({
          key: `${d.id}@${v.version}`,
          fits: INSTRUCTION_FORMATS.includes(d.format),
          label: `${d.name} v${v.version} (${d.format || 'text'}, ${v.documents.toLocaleString()} records)${
            INSTRUCTION_FORMATS.includes(d.format) ? '' : ' — not instruction data'
          }`,
        })),
    );

  const n = (s: string) => (s.trim() === '' ? undefined : Number(s));

  const request = (): SubmitFinetuneJob => {
    const finetune: FinetuneConfig = { baseModel: baseModel(), method: method(), adapter: adapter() };
    if (method() === 'dpo' && n(beta()) !== undefined) finetune.beta = n(beta());
    if (adapter() !== 'full') {
      if (n(rank()) !== undefined) finetune.loraRank = n(rank());
      if (n(alpha()) !== undefined) finetune.loraAlpha = n(alpha());
      if (n(dropout()) !== undefined) finetune.loraDropout = n(dropout());
      finetune.loraTargets = targets();
    }
    const config: FinetuneTrainConfig = { iters: n(iters()) ?? 0 };
    if (n(batchSize()) !== undefined) config.batchSize = n(batchSize());
    if (n(learningRate()) !== undefined) config.learningRate = n(learningRate());
    if (n(context()) !== undefined) config.context = n(context());
    if (n(evalInterval()) !== undefined) config.evalInterval = n(evalInterval());
    const body: SubmitFinetuneJob = { finetune, config };
    if (name().trim()) body.name = name().trim();
    if (source() === 'path') body.dataPath = dataPath().trim();
    else {
      const [id, v] = datasetKey().split('@');
      if (id) {
        body.datasetId = id;
        body.datasetVersion = Number(v);
      }
    }
    return body;
  };
  props.requestRef?.(request);

  // The estimate follows the form (a short pause after typing); a newer request supersedes an older one.
  const [estimate, setEstimate] = createSignal<FinetuneEstimate>();
  const [estimateError, setEstimateError] = createSignal<string>();
  let estimateTimer: ReturnType<typeof setTimeout> | undefined;
  let estimateAbort: AbortController | undefined;
  // Values the server would refuse wait for their fix (its sentence comes with Start): no request, no 400.
  const wholeIn = (v: number | undefined, max: number) =>
    v === undefined || (Number.isInteger(v) && v >= 1 && v <= max);
  createEffect(() => {
    const body = request();
    clearTimeout(estimateTimer);
    const f = body.finetune;
    const c = body.config;
    if (!f.baseModel || !wholeIn(f.loraRank, 1024) || !wholeIn(c.batchSize, 1024)) return;
    if (!wholeIn(c.context, 8192) || !wholeIn(c.iters || undefined, 10_000_000)) return;
    if (f.loraAlpha !== undefined && !(f.loraAlpha > 0)) return;
    if (f.loraDropout !== undefined && !(f.loraDropout >= 0 && f.loraDropout < 1)) return;
    if (f.beta !== undefined && !(f.beta > 0)) return;
    estimateTimer = setTimeout(async () => {
      estimateAbort?.abort();
      const ctl = new AbortController();
      estimateAbort = ctl;
      try {
        const { batchSize, context, gradAccum, iters } = body.config as FinetuneTrainConfig & {
          gradAccum?: number;
        };
        const r = await finetuneApi.estimate(
          { finetune: body.finetune, config: { batchSize, context, gradAccum, iters: iters || undefined } },
          { signal: ctl.signal },
        );
        if (ctl.signal.aborted) return;
        setEstimate(r);
        setEstimateError(undefined);
      } catch (err) {
        if (!ctl.signal.aborted) setEstimateError(errorText(err));
      }
    }, 250);
  });
  onCleanup(() => {
    clearTimeout(estimateTimer);
    estimateAbort?.abort();
  });

  // The preview renders what the job would train on; changing the model, data, method or context makes it stale.
  const [preview, setPreview] = createSignal<FinetunePreview>();
  const [previewError, setPreviewError] = createSignal<string>();
  const [previewing, setPreviewing] = createSignal(false);
  createEffect(
    on([baseModel, source, datasetKey, dataPath, method, context], () => {
      setPreview(undefined);
      setPreviewError(undefined);
    }),
  );
  const runPreview = async () => {
    const body = request();
    setPreviewError(undefined);
    if (!body.dataPath && !body.datasetId)
      return setPreviewError('Pick a dataset version or give a server path to preview its examples.');
    setPreviewing(true);
    try {
      setPreview(
        await finetuneApi.preview({
          finetune: body.finetune,
          dataPath: body.dataPath,
          datasetId: body.datasetId,
          datasetVersion: body.datasetVersion,
          config: body.config.context ? { context: body.config.context } : undefined,
        }),
      );
    } catch (err) {
      setPreview(undefined);
      const input = err instanceof ApiError && err.field ? inputFor(err.field) : undefined;
      if (err instanceof ApiError && input) setFieldError({ input, message: err.message });
      setPreviewError(errorText(err));
    } finally {
      setPreviewing(false);
    }
  };

  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    setError(undefined);
    setFieldError(undefined);
    if (source() === 'dataset' && !datasetKey())
      return setError(
        'Pick a dataset version (ingest one on the Data page as alpaca, sharegpt or chatml), or give a server path.',
      );
    setBusy(true);
    try {
      const r = await finetuneApi.submit(request());
      props.onSubmitted(r.id);
    } catch (err) {
      const input = err instanceof ApiError && err.field ? inputFor(err.field) : undefined;
      if (err instanceof ApiError && input) {
        setFieldError({ input, message: err.message });
        form?.querySelector<HTMLElement>(`[name="${input}"]`)?.focus();
      } else setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  /** The server's sentence under the field it names. */
  const FieldError = (p: { input: string }) => (
    <Show when={fieldError()?.input === p.input ? fieldError() : undefined}>
      {(f) => (
        <span
          class="error-text small field-error"
          role="alert"
          data-testid="ft-field-error"
          data-field={p.input}
        >
          {f().message}
        </span>
      )}
    </Show>
  );

  const numberInput = (
    input: string,
    label: string,
    value: () => string,
    set: (v: string) => void,
    opts: { step?: string; placeholder?: string; min?: string } = {},
  ) => (
    <label>
      {label}
      <input
        type="number"
        name={input}
        step={opts.step ?? '1'}
        min={opts.min}
        placeholder={opts.placeholder}
        value={value()}
        aria-invalid={invalid(input)}
        onInput={(e) => {
          touched(input);
          set(e.currentTarget.value);
        }}
      />
      <FieldError input={input} />
    </label>
  );

  return (
    <div class="card">
      <div class="card-head">
        <h2>New fine-tune</h2>
      </div>
      <form class="form" data-testid="ft-form" onSubmit={submit} ref={form}>
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
          <label class="wide">
            Base model
            <select
              name="baseModel"
              value={baseModel()}
              aria-invalid={invalid('baseModel')}
              onFocus={() => void refetchModels()}
              onChange={(e) => {
                touched('baseModel');
                setBaseModel(e.currentTarget.value);
              }}
            >
              <Show when={!models()?.length}>
                <option value="">— no models: register one in the Playground —</option>
              </Show>
              <For each={models() ?? []}>
                {(m) => (
                  <option value={m.name} data-family={m.family}>
                    {m.name} ({m.family}, {count(m.parameters)} parameters
                    {m.source === 'checkpoint' ? ', a checkpoint' : ''})
                  </option>
                )}
              </For>
            </select>
            <FieldError input="baseModel" />
          </label>
        </div>
        <Show when={base()}>
          {(b) => (
            <p class="muted small" data-testid="ft-base-facts" data-family={b().family}>
              {b().family} family · context {b().context.toLocaleString()} tokens · vocabulary{' '}
              {b().vocabSize.toLocaleString()} ·{' '}
              {b().hasChatTemplate
                ? 'has its own chat template'
                : 'no chat template: examples are rendered as “User: … Assistant: …”'}
            </p>
          )}
        </Show>

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
            a JSON/JSONL file on the server
          </label>
        </fieldset>
        <Show
          when={source() === 'dataset'}
          fallback={
            <label>
              Server path{' '}
              <span class="muted small">
                {method() === 'dpo'
                  ? '(preference pairs: {prompt, chosen, rejected} records)'
                  : '(Alpaca {instruction, input, output}, ShareGPT {conversations} or ChatML {messages} records)'}
              </span>
              <input
                name="dataPath"
                required
                value={dataPath()}
                placeholder="/path/to/examples.json"
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
            <span class="muted small">
              (ingested on the Data page with format alpaca, sharegpt or chatml)
            </span>
            <select
              name="dataset"
              value={datasetKey()}
              aria-invalid={invalid('dataset')}
              onFocus={() => void refetchDatasets()}
              onChange={(e) => {
                touched('dataset');
                setDatasetKey(e.currentTarget.value);
              }}
            >
              <option value="">— pick one —</option>
              <For each={versionOptions()}>
                {(o) => (
                  <option value={o.key} data-fits={o.fits ? 'true' : 'false'}>
                    {o.label}
                  </option>
                )}
              </For>
            </select>
            <FieldError input="dataset" />
          </label>
        </Show>

        <fieldset class="radio-row">
          <legend>Method</legend>
          <label class="inline">
            <input
              type="radio"
              name="method"
              value="sft"
              checked={method() === 'sft'}
              onChange={() => setMethod('sft')}
            />{' '}
            SFT <span class="muted small">(learn the answers of instruction examples)</span>
          </label>
          <label class="inline">
            <input
              type="radio"
              name="method"
              value="dpo"
              checked={method() === 'dpo'}
              onChange={() => setMethod('dpo')}
            />{' '}
            DPO <span class="muted small">(prefer the chosen over the rejected answer)</span>
          </label>
          <label class="inline">
            <input
              type="radio"
              name="method"
              value="reward"
              checked={method() === 'reward'}
              onChange={() => setMethod('reward')}
            />{' '}
            reward model <span class="muted small">(a score head that ranks the chosen answer higher)</span>
          </label>
          <FieldError input="method" />
        </fieldset>
        <Show when={method() === 'dpo'}>
          <div class="preset-grid">
            {numberInput('beta', 'β (how far from the base)', beta, setBeta, {
              step: 'any',
              placeholder: '0.1',
            })}
          </div>
        </Show>

        <fieldset class="radio-row">
          <legend>Adapter</legend>
          <label class="inline">
            <input
              type="radio"
              name="adapter"
              value="lora"
              checked={adapter() === 'lora'}
              onChange={() => setAdapter('lora')}
            />{' '}
            LoRA <span class="muted small">(small low-rank matrices beside frozen weights)</span>
          </label>
          <label class="inline">
            <input
              type="radio"
              name="adapter"
              value="qlora"
              checked={adapter() === 'qlora'}
              onChange={() => setAdapter('qlora')}
            />{' '}
            QLoRA <span class="muted small">(LoRA on a base held in 4 bits: about 1/7 of the memory)</span>
          </label>
          <label class="inline">
            <input
              type="radio"
              name="adapter"
              value="full"
              checked={adapter() === 'full'}
              onChange={() => setAdapter('full')}
            />{' '}
            full <span class="muted small">(every weight trains)</span>
          </label>
          <FieldError input="adapter" />
        </fieldset>
        <Show when={adapter() !== 'full'}>
          <div class="preset-grid" data-testid="ft-lora">
            {numberInput('loraRank', 'Rank', rank, setRank, { placeholder: '8' })}
            {numberInput('loraAlpha', 'Alpha', alpha, setAlpha, {
              step: 'any',
              placeholder: `${2 * (n(rank()) ?? 8)} (2 × rank)`,
            })}
            {numberInput('loraDropout', 'Dropout', dropout, setDropout, { step: 'any', placeholder: '0.05' })}
          </div>
          <fieldset class="radio-row" data-testid="ft-targets" data-family={family()}>
            <legend>Targets</legend>
            <For each={TARGETS[family()].all}>
              {(t) => (
                <label class="inline">
                  <input
                    type="checkbox"
                    name="loraTargets"
                    value={t}
                    checked={targets().includes(t)}
                    onChange={(e) => toggleTarget(t, e.currentTarget.checked)}
                  />{' '}
                  <code>{t}</code>
                </label>
              )}
            </For>
          </fieldset>
          <FieldError input="loraTargets" />
          <p class="muted small">
            {TARGETS[family()].about}. None checked: the family’s default (
            {TARGETS[family()].defaults.join(', ')}). The adapter’s output is scaled by alpha / rank.
          </p>
        </Show>

        <div class="preset-grid">
          {numberInput('iters', 'Steps', iters, setIters, { min: '1' })}
          {numberInput('batchSize', 'Batch', batchSize, setBatchSize, { placeholder: '12' })}
          {numberInput('learningRate', 'Learning rate', learningRate, setLearningRate, {
            step: 'any',
            placeholder: '1e-3',
          })}
          {numberInput('context', 'Context', context, setContext, {
            placeholder: String(Math.min(256, base()?.context || 256)),
          })}
          {numberInput('evalInterval', 'Eval every', evalInterval, setEvalInterval, {
            placeholder: 'steps/10',
          })}
        </div>
        <h3 class="small">Before you start</h3>
        <p class="muted small">
          The estimate below shows what trains and where the memory goes; it follows the settings above. The
          preview renders the first examples as the job will see them, and checks that every answer ends with
          the token generation stops on.
        </p>
        {/* The buttons come before what arrives on its own schedule (the estimate, ~0.3 s after a change,
            and the preview): above them, each arrival moved the buttons under a click made just then. */}
        <div class="form-actions">
          <button
            type="button"
            class="btn"
            data-testid="ft-preview-run"
            disabled={previewing() || !baseModel()}
            onClick={() => void runPreview()}
          >
            {previewing() ? 'Rendering…' : 'Preview examples'}
          </button>
          <button type="submit" class="btn primary" data-testid="ft-submit" disabled={busy() || !baseModel()}>
            {busy() ? 'Starting…' : 'Start fine-tuning'}
          </button>
        </div>
        <Show when={estimateError()}>
          <div class="banner error small" data-testid="ft-estimate-error">
            {estimateError()}
          </div>
        </Show>
        <Show when={estimate()}>{(est) => <Estimate estimate={est()} />}</Show>
        <Show when={previewError()}>
          <div class="banner error small" role="alert" data-testid="ft-preview-error">
            {previewError()}
          </div>
        </Show>
        <Show when={preview()}>{(p) => <Preview preview={p()} />}</Show>
      </form>
      <Show when={error()}>
        <div class="banner error small" role="alert" data-testid="ft-error">
          {error()}
        </div>
      </Show>
    </div>
  );
}
