// The form that starts a pre-training run: name, preset, tokenizer, steps, data and the Advanced fields, with
// the estimate following every change, a confirmation before a run past this machine's memory or a day of
// compute, and server errors under the field they are about. Opened from the Architecture page's "Train this"
// (#/train?preset=…&model=…&context=…), it starts with that design filled in.
import { createEffect, createResource, createSignal, For, on, onCleanup, Show } from 'solid-js';
import { ApiError, api, errorText, type SubmitTrainJob, trainApi } from '../../api.ts';
import ConfirmDialog from '../../components/ConfirmDialog.tsx';
import AdvancedFields from './AdvancedFields.tsx';
import { type EstimateRequest, type FullEstimate, type RunWarning, trainPageApi } from './api.ts';
import DataSource, { type DataSourceKind, type RepeatedFields } from './DataSource.tsx';
import EstimateLine from './EstimateLine.tsx';
import { createFieldErrors } from './fields.tsx';
import {
  ADVANCED_INPUTS,
  type Advanced,
  emptyAdvanced,
  FALLBACK_PRESETS,
  inputFor,
  linkPrefill,
  SHAPE,
  type ShapeField,
} from './form.ts';
import InductionRecipe, { INDUCTION_RECIPE } from './InductionRecipe.tsx';
import type { TrainConfigWithRetention } from './types.ts';

export default function TrainForm(props: { onSubmitted: (id: string) => void }) {
  // A link from the Architecture page: its preset and shape fill the form (kept when the presets arrive).
  const link = linkPrefill(location.hash);
  const [name, setName] = createSignal('');
  const [preset, setPreset] = createSignal(link?.preset ?? 'nanogpt-cpu');
  const [tokenizer, setTokenizer] = createSignal('char');
  const [iters, setIters] = createSignal(2000);
  const [source, setSource] = createSignal<DataSourceKind>('dataset');
  const [datasetKey, setDatasetKey] = createSignal('');
  const [dataPath, setDataPath] = createSignal('');
  const [repeated, setRepeated] = createSignal<RepeatedFields>({ vocabSize: '64', halfLength: '16' });
  const [adv, setAdv] = createSignal<Advanced>({ ...emptyAdvanced(), ...link?.shape });
  /** Model fields of the link the form has no input for; dropped when another preset is chosen. */
  const [extras, setExtras] = createSignal<Record<string, string | number | boolean>>(link?.extras ?? {});
  const [keepBest, setKeepBest] = createSignal(true);
  /** A message about the whole form; it answers the form as it was, so any change clears it. */
  const [error, setError] = createSignal<string>();
  const E = createFieldErrors();
  const setA = (k: keyof Advanced, v: string) => {
    E.touched(k);
    const cur = adv();
    // KV heads follow the heads while they are equal (no grouped-query attention), as svc-train does.
    const follow = k === 'nHead' && cur.nKvHead === cur.nHead;
    if (follow) E.touched('nKvHead');
    setAdv({ ...cur, [k]: v, ...(follow ? { nKvHead: v } : {}) });
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
      E.touched(k);
    }
    setAdv(next);
  };
  createEffect(on(presets, () => fillShape(preset(), true)));
  const [tokenizers] = createResource(() =>
    api
      .tokenizers()
      .then((r) => r.tokenizers.map((t) => t.name))
      .catch(() => [] as string[]),
  );

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
    const model: Record<string, number | string | boolean> = { ...extras() };
    for (const k of ['nLayer', 'nHead', 'nEmbd', 'ffnHidden'] as const) {
      const v = changed(k);
      if (v !== undefined) model[k] = v;
    }
    // KV heads: an override only where they differ from what svc-train derives (the preset's, or the heads
    // for a preset without grouped-query attention whose heads changed).
    const kv = n(a.nKvHead);
    const impliedKv =
      shape && shape.nKvHead === shape.nHead && model.nHead !== undefined ? model.nHead : shape?.nKvHead;
    if (kv !== undefined && kv !== impliedKv) model.nKvHead = kv;
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

  const repeatedTokens = () => ({
    vocabSize: Number(repeated().vocabSize),
    halfLength: Number(repeated().halfLength),
  });

  /** The data of the run, as the job request and the estimate name it. */
  const dataOf = (): { datasetId?: string; datasetVersion?: number; dataPath?: string } => {
    if (source() === 'repeated') return {};
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
      // Repeated tokens: their vocabulary sizes the model, and the context is two runs.
      ...(source() === 'repeated' && {
        tokenizer: undefined,
        vocabSize: repeatedTokens().vocabSize || undefined,
        context: 2 * repeatedTokens().halfLength || undefined,
      }),
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

  const request = (): SubmitTrainJob => {
    const body: SubmitTrainJob =
      source() === 'repeated'
        ? { config: config(), repeatedTokens: repeatedTokens() }
        : { tokenizer: tokenizer(), config: config(), ...dataOf() };
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
        E.set({ input, message: err.message });
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
    E.set(undefined);
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

  /** The induction-head recipe: its model, data and schedule in the form, ready to start. */
  const applyInduction = () => {
    const r = INDUCTION_RECIPE;
    E.set(undefined);
    setError(undefined);
    setName(r.name);
    setPreset(r.preset);
    setIters(r.iters);
    setSource('repeated');
    setRepeated({ vocabSize: String(r.vocabSize), halfLength: String(r.halfLength) });
    setExtras({ ...r.extras });
    setAdv({
      ...emptyAdvanced(),
      ...Object.fromEntries(Object.entries(r.advanced).map(([k, v]) => [k, String(v)])),
    });
    if (advanced) advanced.open = true;
  };

  const extraText = () =>
    Object.entries(extras())
      .map(([k, v]) => `${k} ${String(v)}`)
      .join(', ');

  return (
    <div class="card">
      <div class="card-head">
        <h2>New pre-training run</h2>
      </div>
      <InductionRecipe onApply={applyInduction} />
      <Show when={link}>
        {(l) => (
          <p class="muted small" data-testid="train-link-note">
            Filled in from the Architecture page: {l().preset} with the shape you designed
            <Show when={extraText()}>{(t) => <span data-testid="train-link-extras"> (and {t()})</span>}</Show>
            .
          </p>
        )}
      </Show>
      <form
        class="form"
        data-testid="train-form"
        onSubmit={submit}
        ref={form}
        onInput={() => setError(undefined)}
        onChange={() => setError(undefined)}
      >
        <div class="preset-grid">
          <label>
            Name
            <input
              name="name"
              value={name()}
              placeholder="optional"
              aria-invalid={E.invalid('name')}
              onInput={(e) => {
                E.touched('name');
                setName(e.currentTarget.value);
              }}
            />
            <E.Message input="name" />
          </label>
          <label>
            Preset
            <select
              name="preset"
              value={preset()}
              aria-invalid={E.invalid('preset')}
              onChange={(e) => {
                E.touched('preset');
                setPreset(e.currentTarget.value);
                setExtras({});
                fillShape(e.currentTarget.value);
              }}
            >
              <For each={presets()?.map((p) => p.name) ?? FALLBACK_PRESETS}>
                {(p) => <option value={p}>{p}</option>}
              </For>
            </select>
            <E.Message input="preset" />
          </label>
          <label>
            Tokenizer
            <select
              name="tokenizer"
              value={tokenizer()}
              // Repeated random tokens bring their own vocabulary (one character per id).
              disabled={source() === 'repeated'}
              aria-invalid={E.invalid('tokenizer')}
              onChange={(e) => {
                E.touched('tokenizer');
                setTokenizer(e.currentTarget.value);
              }}
            >
              <For each={Array.from(new Set(['char', ...(tokenizers() ?? [])]))}>
                {(t) => <option value={t}>{t}</option>}
              </For>
            </select>
            <E.Message input="tokenizer" />
          </label>
          <label>
            Steps (iters)
            <input
              name="iters"
              type="number"
              min="1"
              required
              value={iters()}
              aria-invalid={E.invalid('iters')}
              onInput={(e) => {
                E.touched('iters');
                setIters(e.currentTarget.valueAsNumber);
              }}
            />
            <E.Message input="iters" />
          </label>
        </div>
        <DataSource
          source={source()}
          onSource={setSource}
          datasetKey={datasetKey()}
          onDatasetKey={setDatasetKey}
          dataPath={dataPath()}
          onDataPath={setDataPath}
          tokenizer={tokenizer()}
          repeated={repeated()}
          onRepeated={setRepeated}
          errors={E}
        />
        <AdvancedFields
          values={adv()}
          onField={setA}
          keepBest={keepBest()}
          onKeepBest={setKeepBest}
          errors={E}
          ref={(el) => {
            advanced = el;
            // Show what the link filled in.
            if (link) el.open = true;
          }}
        />
        <div class="form-actions">
          <button type="submit" class="btn primary" data-testid="train-submit" disabled={busy()}>
            {busy() ? 'Starting…' : 'Start training'}
          </button>
        </div>
        {/* Below the button: the estimate arrives a moment after the page and grows by lines, and above
            the button it moved it down under a click made just then. */}
        <EstimateLine estimate={estimate()} note={estimateNote()} iters={iters()} />
      </form>
      <Show when={error()}>
        <div class="banner error small" role="alert" data-testid="train-form-error">
          {error()}
        </div>
      </Show>
      <ConfirmDialog
        open={!!confirming()}
        title="Start this run anyway?"
        backLabel="Go back"
        confirmLabel="Start anyway"
        onBack={() => setConfirming(undefined)}
        onConfirm={() => void start()}
        testId="train-confirm"
        confirmTestId="train-confirm-start"
      >
        <ul>
          <For each={confirming() ?? []}>{(w) => <li data-kind={w.kind}>{w.message}</li>}</For>
        </ul>
      </ConfirmDialog>
    </div>
  );
}
