// Cleaning, filtering and splitting a version. Every run starts as a dry run: the page shows what each step
// would remove (counts, examples, warnings when a step takes more than a quarter of the data), and only then
// offers to apply exactly those steps. The quality thresholds are on the page, starting from the defaults the
// service chose for this dataset's kind of document (a paragraph of verse is not a web page).
import { createEffect, createResource, createSignal, For, on, onCleanup, Show } from 'solid-js';
import { type DataJobProgress, type DataStep, type Dataset, errorText } from '../../api.ts';
import { dataPageApi, type FullStepReport } from './api.ts';
import { fmt, followDataJob, Progress } from './job.tsx';
import { Report } from './Report.tsx';

interface StepsState {
  clean: boolean;
  stripHtml: boolean;
  minChars: number;
  pii: boolean;
  quality: boolean;
  dedupExact: boolean;
  dedupNear: boolean;
  threshold: number;
  split: boolean;
  train: number;
  val: number;
  test: number;
  seed: number;
}

/** The quality thresholds a learner can set, in the order the rules run. */
const QUALITY_FIELDS: { key: string; label: string; step: number }[] = [
  { key: 'minWords', label: 'words ≥', step: 1 },
  { key: 'maxWords', label: 'words ≤', step: 1 },
  { key: 'minMeanWordLength', label: 'mean word length ≥', step: 0.5 },
  { key: 'maxMeanWordLength', label: 'mean word length ≤', step: 0.5 },
  { key: 'maxSymbolWordRatio', label: '# and … per word ≤', step: 0.01 },
  { key: 'maxBulletLineFraction', label: 'bullet lines ≤', step: 0.05 },
  { key: 'maxEllipsisLineFraction', label: 'lines ending in … ≤', step: 0.05 },
  { key: 'minAlphaWordFraction', label: 'words with a letter ≥', step: 0.05 },
  { key: 'minStopWords', label: 'stop words ≥', step: 1 },
  { key: 'maxDuplicateLineFraction', label: 'repeated lines ≤', step: 0.05 },
  { key: 'maxDuplicateLineCharFraction', label: 'characters in repeated lines ≤', step: 0.05 },
  { key: 'maxDuplicateParagraphFraction', label: 'repeated paragraphs ≤', step: 0.05 },
];
/** The n-gram rules' thresholds, written as "2:0.2, 3:0.18". */
const NGRAM_FIELDS = [
  { key: 'topNgramCharFraction', label: 'characters in the most frequent n-gram ≤' },
  { key: 'duplicateNgramCharFraction', label: 'characters in repeated n-grams ≤' },
];

const ngramText = (v: unknown) =>
  Object.entries((v ?? {}) as Record<string, number>)
    .map(([n, f]) => `${n}:${f}`)
    .join(', ');

function parseNgrams(label: string, text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of text.split(',').map((p) => p.trim())) {
    if (!part) continue;
    const m = /^(\d+)\s*:\s*([\d.]+)$/.exec(part);
    if (!m) throw new Error(`${label}: write n:fraction pairs such as "2:0.2, 3:0.18" (got "${part}")`);
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

type Preview = { key: string; reports: FullStepReport[]; documents: number; characters: number };
type TransformProgress = DataJobProgress & {
  reports?: FullStepReport[];
  documents?: number;
  characters?: number;
};

export function StepsForm(props: { dataset: Dataset; from: number; onVersion: (v: number) => void }) {
  const [s, setS] = createSignal<StepsState>({
    clean: true,
    stripHtml: false,
    minChars: 1,
    pii: false,
    quality: false,
    dedupExact: false,
    dedupNear: false,
    threshold: 0.8,
    split: true,
    train: 0.9,
    val: 0.1,
    test: 0,
    seed: 0,
  });
  const set = <K extends keyof StepsState>(k: K, v: StepsState[K]) => setS({ ...s(), [k]: v });
  const [defaults] = createResource(
    () => props.dataset.id,
    (id) => dataPageApi.stepDefaults(id),
  );
  const [quality, setQuality] = createSignal<Record<string, number>>({});
  const [ngrams, setNgrams] = createSignal<Record<string, string>>({});
  const resetQuality = () => {
    const q = defaults()?.steps.find((st) => st.kind === 'quality');
    if (!q) return;
    const { kind: _kind, ...params } = q;
    setQuality(Object.fromEntries(QUALITY_FIELDS.map((f) => [f.key, Number(params[f.key])])));
    setNgrams(Object.fromEntries(NGRAM_FIELDS.map((f) => [f.key, ngramText(params[f.key])])));
  };
  createEffect(on(defaults, resetQuality));

  const [progress, setProgress] = createSignal<TransformProgress>();
  const [running, setRunning] = createSignal<'preview' | 'apply'>();
  const [preview, setPreview] = createSignal<Preview>();
  const [applied, setApplied] = createSignal<FullStepReport[]>();
  const [error, setError] = createSignal<string>();
  let stop: (() => void) | undefined;
  onCleanup(() => stop?.());

  const steps = (): DataStep[] => {
    const o = s();
    const out: DataStep[] = [];
    if (o.clean) out.push({ kind: 'clean', stripHtml: o.stripHtml, minChars: o.minChars });
    if (o.pii) out.push({ kind: 'pii' });
    if (o.quality) {
      const q: DataStep = { kind: 'quality', ...quality() };
      for (const f of NGRAM_FIELDS)
        if (ngrams()[f.key] !== undefined) q[f.key] = parseNgrams(f.label, ngrams()[f.key]!);
      out.push(q);
    }
    if (o.dedupExact) out.push({ kind: 'dedup_exact' });
    if (o.dedupNear) out.push({ kind: 'dedup_near', threshold: o.threshold });
    if (o.split) out.push({ kind: 'split', train: o.train, val: o.val, test: o.test, seed: o.seed });
    return out;
  };
  /** What a preview was made of: the same key means Apply makes exactly what the preview showed. */
  const keyOf = () => {
    try {
      return JSON.stringify({ id: props.dataset.id, from: props.from, steps: steps() });
    } catch {
      return '';
    }
  };
  const current = () => {
    const p = preview();
    return p && p.key === keyOf() ? p : undefined;
  };
  const warnings = () => current()?.reports.flatMap((r) => r.warnings ?? []) ?? [];

  const start = async (mode: 'preview' | 'apply') => {
    setError(undefined);
    let list: DataStep[];
    try {
      list = steps();
    } catch (err) {
      return setError(errorText(err));
    }
    if (!list.length) return setError('Pick at least one step.');
    const key = keyOf();
    try {
      const { jobId } = await dataPageApi.transformJob(props.dataset.id, {
        from: props.from,
        steps: list,
        dryRun: mode === 'preview',
      });
      if (mode === 'apply') setApplied(undefined);
      setRunning(mode);
      setProgress({ state: 'running', done: 0, total: 0, message: 'starting' });
      stop?.();
      stop = followDataJob<TransformProgress>(jobId, (p) => {
        setProgress(p);
        if (p.state === 'running') return;
        setRunning(undefined);
        if (p.state !== 'done') return;
        if (mode === 'preview')
          setPreview({
            key,
            reports: p.reports ?? [],
            documents: p.documents ?? 0,
            characters: p.characters ?? 0,
          });
        else {
          setApplied(p.reports ?? []);
          setPreview(undefined);
          if (p.version) props.onVersion(p.version.version);
        }
      });
    } catch (err) {
      setError(errorText(err));
    }
  };

  const check = (k: keyof StepsState, label: string) => (
    <label class="inline">
      <input
        type="checkbox"
        name={k}
        checked={s()[k] as boolean}
        onChange={(e) => set(k, e.currentTarget.checked as never)}
      />{' '}
      {label}
    </label>
  );
  const num = (k: keyof StepsState, label: string, step: number, min = 0, max?: number) => (
    <label class="inline">
      {label}{' '}
      <input
        type="number"
        class="num"
        name={k}
        step={step}
        min={min}
        max={max}
        value={s()[k] as number}
        onInput={(e) => set(k, e.currentTarget.valueAsNumber as never)}
      />
    </label>
  );

  return (
    <div class="card">
      <div class="card-head">
        <h2>Clean, filter, split</h2>
        <span class="muted small">from version {props.from}</span>
      </div>
      <p class="muted small">
        Preview first: a dry run shows what each step would remove, with examples, before anything is written.
        Apply then makes a new version from exactly those steps.
      </p>
      <form
        class="form steps-form"
        data-testid="data-steps"
        onSubmit={(e) => {
          e.preventDefault();
          void start('preview');
        }}
      >
        <div class="step-row">
          {check('clean', 'Clean')}{' '}
          <span class="muted small">Unicode NFC, control characters, whitespace</span>
          {check('stripHtml', 'strip HTML')}
          {num('minChars', 'min chars', 1, 1)}
        </div>
        <div class="step-row">
          {check('pii', 'PII')}{' '}
          <span class="muted small">replace e-mails, phone numbers, IPs… with placeholders</span>
        </div>
        <div class="step-row">
          {check('quality', 'Quality')}{' '}
          <span class="muted small">Gopher rules: length, symbols, stop words, repetition</span>
        </div>
        <Show when={s().quality}>
          <details class="quality-thresholds" data-testid="quality-thresholds" open>
            <summary class="small">
              Thresholds for {defaults()?.documentSplit ?? '…'} documents{' '}
              <button type="button" class="btn small" onClick={resetQuality} disabled={!defaults()}>
                Reset to defaults
              </button>
            </summary>
            <Show when={defaults()?.note}>
              <p class="muted small" data-testid="quality-note">
                {defaults()?.note}
              </p>
            </Show>
            <Show when={defaults.error}>
              <div class="banner error small">{errorText(defaults.error)}</div>
            </Show>
            <div class="step-row">
              <For each={QUALITY_FIELDS}>
                {(f) => (
                  <label class="inline">
                    {f.label}{' '}
                    <input
                      type="number"
                      class="num"
                      name={`q.${f.key}`}
                      step={f.step}
                      min={0}
                      value={quality()[f.key] ?? ''}
                      onInput={(e) => setQuality({ ...quality(), [f.key]: e.currentTarget.valueAsNumber })}
                    />
                  </label>
                )}
              </For>
              <For each={NGRAM_FIELDS}>
                {(f) => (
                  <label class="inline">
                    {f.label}{' '}
                    <input
                      name={`q.${f.key}`}
                      value={ngrams()[f.key] ?? ''}
                      onInput={(e) => setNgrams({ ...ngrams(), [f.key]: e.currentTarget.value })}
                    />
                  </label>
                )}
              </For>
            </div>
          </details>
        </Show>
        <div class="step-row">
          {check('dedupExact', 'Exact dedup')}
          {check('dedupNear', 'Near dedup (MinHash)')}
          {num('threshold', 'Jaccard ≥', 0.05, 0.05, 1)}
        </div>
        <div class="step-row">
          {check('split', 'Split')}
          {num('train', 'train', 0.01, 0, 1)}
          {num('val', 'val', 0.01, 0, 1)}
          {num('test', 'test', 0.01, 0, 1)}
          {num('seed', 'seed', 1, 0)}
        </div>
        <div class="form-actions">
          <button type="submit" class="btn primary" data-testid="data-preview" disabled={!!running()}>
            {running() === 'preview' ? 'Previewing…' : 'Preview (dry run)'}
          </button>
          <button
            type="button"
            class="btn"
            classList={{ danger: warnings().length > 0, primary: !!current() && !warnings().length }}
            data-testid="data-apply"
            disabled={!!running() || !current()}
            title={current() ? undefined : 'Preview these steps first'}
            onClick={() => void start('apply')}
          >
            {running() === 'apply' ? 'Applying…' : warnings().length ? 'Apply despite warnings' : 'Apply'}
          </button>
          <Show when={preview() && !current() && !running()}>
            <span class="muted small">The settings changed since the preview: preview again.</span>
          </Show>
        </div>
      </form>
      <Show when={error()}>
        <div class="banner error small" role="alert">
          {error()}
        </div>
      </Show>
      <Progress p={progress()} />
      <Show when={current()}>
        {(p) => (
          <>
            <div
              class="banner small"
              classList={{ warn: warnings().length > 0 }}
              data-testid="data-preview-summary"
              role={warnings().length ? 'alert' : undefined}
            >
              Dry run: the new version would have {fmt(p().documents)} documents and {fmt(p().characters)}{' '}
              characters (v{props.from} has{' '}
              {fmt(props.dataset.versions.find((v) => v.version === props.from)?.documents ?? 0)}). Nothing
              has been written yet.
              <Show when={warnings().length}>
                {' '}
                {warnings().length} warning(s) below: read them before applying.
              </Show>
            </div>
            <Report reports={p().reports} testid="data-preview-report" title="What these steps would do" />
          </>
        )}
      </Show>
      <Show when={applied()}>{(r) => <Report reports={r()} />}</Show>
    </div>
  );
}
