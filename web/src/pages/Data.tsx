import { createResource, createSignal, For, onCleanup, Show } from 'solid-js';
import {
  api,
  type DataJobProgress,
  type DataStep,
  type Dataset,
  type DatasetStats,
  dataApi,
  errorText,
  type ShardIndex,
  type StepReport,
} from '../api.ts';

const fmt = (n: number) => n.toLocaleString();

/** Follows a data job's SSE progress until done/failed. */
function followDataJob(jobId: string, onProgress: (p: DataJobProgress) => void): () => void {
  const es = new EventSource(dataApi.jobEventsUrl(jobId));
  const handle = (msg: MessageEvent<string>) => {
    let p: DataJobProgress;
    try {
      p = JSON.parse(msg.data) as DataJobProgress;
    } catch {
      return;
    }
    onProgress(p);
    if (p.state !== 'running') es.close();
  };
  es.addEventListener('progress', handle);
  es.addEventListener('message', handle);
  return () => es.close();
}

function Progress(props: { p?: DataJobProgress; testid?: string }) {
  const pct = () => {
    const p = props.p;
    if (!p) return 0;
    if (p.state === 'done') return 100;
    return p.total > 0 ? Math.min(100, (100 * p.done) / p.total) : 0;
  };
  return (
    <Show when={props.p}>
      {(p) => (
        <div class="train-status">
          <div
            class="progress"
            classList={{ done: p().state === 'done', failed: p().state === 'failed' }}
            role="progressbar"
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={Math.round(pct())}
          >
            <div class="progress-fill" style={{ width: `${pct()}%` }} />
          </div>
          <div class="small">
            <b>{p().state}</b>
            <Show when={p().message}> · {p().message}</Show>
            <Show when={p().error}>
              {(e) => (
                <span class="error-text">
                  {' · '}
                  {e().message}
                </span>
              )}
            </Show>
          </div>
        </div>
      )}
    </Show>
  );
}

function Upload(props: { onCreated: (id: string) => void }) {
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal<string>();
  const [warnings, setWarnings] = createSignal<string[]>([]);
  const [path, setPath] = createSignal('');
  const [name, setName] = createSignal('');
  const [over, setOver] = createSignal(false);

  const done = (r: { id: string; warnings: string[] }) => {
    setWarnings(r.warnings);
    props.onCreated(r.id);
  };
  const upload = async (file: File) => {
    setError(undefined);
    setBusy(true);
    try {
      const form = new FormData();
      form.append('file', file);
      if (name().trim()) form.append('name', name().trim());
      done(await dataApi.upload(form));
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  const fromPath = async (e: SubmitEvent) => {
    e.preventDefault();
    setError(undefined);
    setBusy(true);
    try {
      done(
        await dataApi.fromPath({ path: path().trim(), ...(name().trim() ? { name: name().trim() } : {}) }),
      );
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="card">
      <div class="card-head">
        <h2>Add a dataset</h2>
      </div>
      <label>
        Name <span class="muted small">(optional; default the file name)</span>
        <input value={name()} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <label
        class="dropzone"
        classList={{ over: over() }}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          setOver(false);
          const f = e.dataTransfer?.files[0];
          if (f) void upload(f);
        }}
      >
        {busy() ? 'Uploading…' : 'Drop a file here (txt, jsonl, json, csv, parquet) or click to pick one'}
        <input
          type="file"
          data-testid="data-upload"
          class="visually-hidden"
          disabled={busy()}
          onChange={(e) => {
            const f = e.currentTarget.files?.[0];
            if (f) void upload(f);
            e.currentTarget.value = '';
          }}
        />
      </label>
      <form class="form inline-form" onSubmit={fromPath}>
        <label>
          …or a path on the server
          <input
            name="path"
            value={path()}
            onInput={(e) => setPath(e.currentTarget.value)}
            placeholder="/data/corpus.txt"
          />
        </label>
        <div class="form-actions">
          <button type="submit" class="btn" disabled={busy() || !path().trim()}>
            Add
          </button>
        </div>
      </form>
      <Show when={error()}>
        <div class="banner error small" role="alert">
          {error()}
        </div>
      </Show>
      <Show when={warnings().length}>
        <div class="banner small">
          {warnings().length} warning(s): {warnings().slice(0, 3).join('; ')}
        </div>
      </Show>
    </div>
  );
}

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

function StepsForm(props: { dataset: Dataset; from: number; onVersion: (v: number) => void }) {
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
  const [progress, setProgress] = createSignal<DataJobProgress>();
  const [reports, setReports] = createSignal<StepReport[]>();
  const [error, setError] = createSignal<string>();
  let stop: (() => void) | undefined;
  onCleanup(() => stop?.());

  const steps = (): DataStep[] => {
    const o = s();
    const out: DataStep[] = [];
    if (o.clean) out.push({ kind: 'clean', stripHtml: o.stripHtml, minChars: o.minChars });
    if (o.pii) out.push({ kind: 'pii' });
    if (o.quality) out.push({ kind: 'quality' });
    if (o.dedupExact) out.push({ kind: 'dedup_exact' });
    if (o.dedupNear) out.push({ kind: 'dedup_near', threshold: o.threshold });
    if (o.split) out.push({ kind: 'split', train: o.train, val: o.val, test: o.test, seed: o.seed });
    return out;
  };
  const running = () => progress()?.state === 'running';

  const run = async (e: SubmitEvent) => {
    e.preventDefault();
    setError(undefined);
    setReports(undefined);
    const list = steps();
    if (!list.length) return setError('Pick at least one step.');
    try {
      const { jobId } = await dataApi.transformJob(props.dataset.id, { from: props.from, steps: list });
      setProgress({ state: 'running', done: 0, total: 0, message: 'starting' });
      stop?.();
      stop = followDataJob(jobId, (p) => {
        setProgress(p);
        if (p.state === 'done') {
          setReports(p.reports ?? []);
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
      <form class="form steps-form" data-testid="data-steps" onSubmit={run}>
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
          <button type="submit" class="btn primary" disabled={running()}>
            {running() ? 'Running…' : 'Run steps'}
          </button>
        </div>
      </form>
      <Show when={error()}>
        <div class="banner error small" role="alert">
          {error()}
        </div>
      </Show>
      <Progress p={progress()} />
      <Show when={reports()}>{(r) => <Report reports={r()} />}</Show>
    </div>
  );
}

export function Report(props: { reports: StepReport[]; testid?: string; title?: string }) {
  return (
    <div class="report" data-testid={props.testid ?? 'data-report'}>
      <h3>{props.title ?? 'Cleaning report'}</h3>
      <For each={props.reports}>
        {(r) => (
          <details class="report-step" data-kind={r.kind} open>
            <summary>
              <b>{r.kind}</b> · {fmt(r.documentsIn)} → {fmt(r.documentsOut)} documents
              <Show when={r.documentsIn !== r.documentsOut}>
                {' '}
                (<span class="error-text">−{fmt(r.documentsIn - r.documentsOut)}</span>)
              </Show>
              <span class="muted small"> · {Math.round(r.durationMs)} ms</span>
            </summary>
            <div class="small">
              <Show
                when={Object.keys(r.removed).length}
                fallback={<span class="muted">nothing removed</span>}
              >
                Removed:{' '}
                {Object.entries(r.removed)
                  .map(([k, v]) => `${k} ${fmt(v)}`)
                  .join(', ')}
              </Show>
              <Show when={Object.keys(r.counts).length}>
                {' · '}
                {Object.entries(r.counts)
                  .map(([k, v]) => `${k.replace(/_/g, ' ')} ${fmt(v)}`)
                  .join(', ')}
              </Show>
              <Show when={r.clusters}> · {fmt(r.clusters)} duplicate clusters</Show>
            </div>
            <For each={r.examples.slice(0, 5)}>
              {(x) => (
                <div class="example">
                  <div class="muted small">
                    {x.reason} · document {x.index}
                    <Show when={x.keptIndex >= 0}> (kept {x.keptIndex})</Show>
                    <Show when={x.similarity}> · similarity {x.similarity.toFixed(2)}</Show>
                  </div>
                  <div class="before-after">
                    <pre class="before">{x.before}</pre>
                    <pre class="after">{x.after || '(removed)'}</pre>
                  </div>
                </div>
              )}
            </For>
          </details>
        )}
      </For>
    </div>
  );
}

function Histogram(props: { bounds: number[]; counts: number[] }) {
  /** Buckets up to the last non-empty one (the service's last bucket is open-ended). */
  const shown = () => {
    let n = props.counts.length;
    while (n > 1 && !props.counts[n - 1]) n--;
    return props.counts.slice(0, n);
  };
  const max = () => Math.max(1, ...props.counts);
  return (
    <div class="histogram" role="img" aria-label="document length histogram (characters)">
      <For each={shown()}>
        {(c, i) => (
          <div class="hist-col" title={`${fmt(props.bounds[i()] ?? 0)}+ chars: ${fmt(c)} documents`}>
            <div class="hist-bar" style={{ height: `${(100 * c) / max()}%` }} />
            <span class="hist-label">{fmt(props.bounds[i()] ?? 0)}</span>
          </div>
        )}
      </For>
    </div>
  );
}

function StatsAndShards(props: { dataset: Dataset; version: number; tokenizers: string[] }) {
  const [tok, setTok] = createSignal('gpt2');
  const [stats, setStats] = createSignal<DatasetStats>();
  const [statsErr, setStatsErr] = createSignal<string>();
  const [loading, setLoading] = createSignal(false);
  const [shardTok, setShardTok] = createSignal('char');
  const [shardProgress, setShardProgress] = createSignal<DataJobProgress>();
  const [index, setIndex] = createSignal<ShardIndex>();
  const [shardErr, setShardErr] = createSignal<string>();
  let stop: (() => void) | undefined;
  onCleanup(() => stop?.());

  const loadStats = async () => {
    setLoading(true);
    setStatsErr(undefined);
    try {
      setStats(await dataApi.stats(props.dataset.id, props.version, tok()));
    } catch (err) {
      setStatsErr(errorText(err));
    } finally {
      setLoading(false);
    }
  };
  const tokenize = async (e: SubmitEvent) => {
    e.preventDefault();
    setShardErr(undefined);
    setIndex(undefined);
    try {
      const { jobId } = await dataApi.shardsJob(props.dataset.id, props.version, { tokenizer: shardTok() });
      setShardProgress({ state: 'running', done: 0, total: 0, message: 'starting' });
      stop?.();
      stop = followDataJob(jobId, (p) => {
        setShardProgress(p);
        if (p.state === 'done' && p.index) setIndex(p.index);
      });
    } catch (err) {
      setShardErr(errorText(err));
      setShardProgress(undefined);
    }
  };
  const options = () => Array.from(new Set(['char', ...props.tokenizers]));

  return (
    <>
      <div class="card" data-testid="data-stats" data-state={stats() ? 'ready' : loading() ? 'loading' : ''}>
        <div class="card-head">
          <h2>Statistics · version {props.version}</h2>
        </div>
        <div class="form inline-form">
          <label class="inline">
            Count tokens with{' '}
            <select value={tok()} onChange={(e) => setTok(e.currentTarget.value)}>
              <For each={props.tokenizers}>{(t) => <option value={t}>{t}</option>}</For>
            </select>
          </label>
          <button type="button" class="btn" disabled={loading()} onClick={loadStats}>
            {loading() ? 'Counting…' : 'Compute statistics'}
          </button>
        </div>
        <Show when={statsErr()}>
          <div class="banner error small">{statsErr()}</div>
        </Show>
        <Show when={stats()}>
          {(st) => (
            <>
              <table class="kv">
                <tbody>
                  <tr>
                    <th>Documents</th>
                    <td data-stat="documents">{fmt(st().documents)}</td>
                    <th>Characters</th>
                    <td>{fmt(st().characters)}</td>
                    <th>Words</th>
                    <td>{fmt(st().words)}</td>
                  </tr>
                  <tr>
                    <th>Tokens ({st().tokenizer || '—'})</th>
                    <td data-stat="tokens">{fmt(st().tokens)}</td>
                    <th>Length min / mean / max</th>
                    <td colSpan={3}>
                      {fmt(st().minLength)} / {fmt(Math.round(st().meanLength))} / {fmt(st().maxLength)} chars
                    </td>
                  </tr>
                  <Show when={Object.keys(st().splits).length}>
                    <tr>
                      <th>Splits</th>
                      <td colSpan={5}>
                        {Object.entries(st().splits)
                          .map(([k, v]) => `${k} ${fmt(v)}`)
                          .join(' · ')}
                      </td>
                    </tr>
                  </Show>
                </tbody>
              </table>
              <h3 class="small">Document length (characters)</h3>
              <Histogram bounds={st().lengthBucketBounds} counts={st().lengthBucketCounts} />
            </>
          )}
        </Show>
      </div>
      <div class="card" data-testid="data-shards" data-state={shardProgress()?.state ?? ''}>
        <div class="card-head">
          <h2>Tokenize into shards · version {props.version}</h2>
        </div>
        <p class="muted small">
          The trainer reads binary files of token ids (one per split), not text: this runs the tokenizer once
          over the whole version.
        </p>
        <form class="form inline-form" onSubmit={tokenize}>
          <label class="inline">
            Tokenizer{' '}
            <select name="tokenizer" value={shardTok()} onChange={(e) => setShardTok(e.currentTarget.value)}>
              <For each={options()}>{(t) => <option value={t}>{t}</option>}</For>
            </select>
          </label>
          <button type="submit" class="btn primary" disabled={shardProgress()?.state === 'running'}>
            Tokenize
          </button>
        </form>
        <Show when={shardErr()}>
          <div class="banner error small" role="alert">
            {shardErr()}
          </div>
        </Show>
        <Progress p={shardProgress()} />
        <Show when={index()}>
          {(ix) => (
            <div class="small">
              {fmt(ix().tokens)} tokens ({ix().dtype}, vocabulary {fmt(ix().vocabSize)}) in{' '}
              <code>{ix().dir}</code>
              <ul>
                <For each={ix().splits}>
                  {(sp) => (
                    <li>
                      {sp.name}: {fmt(sp.tokens)} tokens, {fmt(sp.documents)} documents, {sp.files.length}{' '}
                      file(s)
                    </li>
                  )}
                </For>
              </ul>
            </div>
          )}
        </Show>
      </div>
    </>
  );
}

export default function DataPage() {
  const [list, { refetch }] = createResource(() => dataApi.list().then((r) => r.datasets));
  const [tokenizers] = createResource(() =>
    api
      .tokenizers()
      .then((r) => r.tokenizers.map((t) => t.name))
      .catch(() => ['gpt2']),
  );
  const [selected, setSelected] = createSignal<string>();
  const [dataset, { refetch: refetchDataset }] = createResource(selected, (id) => dataApi.get(id));
  const [version, setVersion] = createSignal<number>();
  /** The version whose report the user opened from the lineage list. */
  const [inspected, setInspected] = createSignal<number>();
  const [versionReport] = createResource(
    () => {
      const id = selected();
      const v = inspected();
      return id && v !== undefined ? ([id, v] as const) : undefined;
    },
    ([id, v]) => dataApi.version(id, v),
  );

  const latest = () => {
    const d = dataset();
    return d?.versions.length ? Math.max(...d.versions.map((v) => v.version)) : undefined;
  };
  const current = () => version() ?? latest();

  const select = (id: string) => {
    setVersion(undefined);
    setInspected(undefined);
    setSelected(id);
  };

  return (
    <div class="data-page">
      <p class="muted">
        Cleaning matters because the model copies whatever is in its data: duplicated passages get memorised,
        markup and boilerplate become things it learns to write, and personal data can leak back out in
        generations. Each step below makes a new <em>version</em>, so you can always see what a step removed
        and go back.
      </p>
      <div class="two-col">
        <Upload
          onCreated={(id) => {
            void refetch();
            select(id);
          }}
        />
        <div class="card">
          <div class="card-head">
            <h2>Datasets</h2>
            <button type="button" class="btn small" onClick={() => refetch()}>
              Refresh
            </button>
          </div>
          <Show when={list.error}>
            <div class="banner error small">{errorText(list.error)}</div>
          </Show>
          <ul class="pick-list" data-testid="data-list">
            <For each={list()} fallback={<li class="muted small">No datasets yet.</li>}>
              {(d) => (
                <li data-id={d.id} classList={{ selected: d.id === selected() }}>
                  <button type="button" class="link" onClick={() => select(d.id)}>
                    {d.name}
                  </button>{' '}
                  <span class="muted small">
                    {d.id} · {d.format} · {d.versions.length} version(s)
                  </span>
                </li>
              )}
            </For>
          </ul>
        </div>
      </div>
      <Show when={dataset()}>
        {(d) => (
          <>
            <div class="card">
              <div class="card-head">
                <h2>{d().name} · versions</h2>
                <span class="muted small">{d().source}</span>
              </div>
              <ol class="lineage" data-testid="data-versions">
                <For each={[...d().versions].sort((a, b) => a.version - b.version)}>
                  {(v) => (
                    <li data-version={v.version} classList={{ selected: v.version === current() }}>
                      <button
                        type="button"
                        class="link"
                        onClick={() => {
                          setVersion(v.version);
                          setInspected(v.version);
                        }}
                      >
                        v{v.version}
                      </button>{' '}
                      <span class="muted small">
                        {v.parent ? `← v${v.parent} ` : ''}
                        {v.step}
                      </span>{' '}
                      · {fmt(v.documents)} docs · {fmt(v.characters)} chars
                      <Show when={Object.keys(v.splits).length}>
                        {' · '}
                        {Object.entries(v.splits)
                          .map(([k, n]) => `${k} ${fmt(n)}`)
                          .join(', ')}
                      </Show>
                    </li>
                  )}
                </For>
              </ol>
              <Show when={inspected() !== undefined && versionReport()?.reports.length}>
                <Report
                  reports={versionReport()?.reports ?? []}
                  testid="data-version-report"
                  title={`How v${inspected()} was made`}
                />
              </Show>
            </div>
            <Show when={current() !== undefined}>
              {/* Not keyed: the report of the last run stays visible when its new version becomes current. */}
              {(_) => (
                <StepsForm
                  dataset={d()}
                  from={current() ?? 0}
                  onVersion={(v) => {
                    void refetchDataset();
                    void refetch();
                    setInspected(undefined);
                    setVersion(v);
                  }}
                />
              )}
            </Show>
            <Show when={current()} keyed>
              {(v) => <StatsAndShards dataset={d()} version={v} tokenizers={tokenizers() ?? ['gpt2']} />}
            </Show>
          </>
        )}
      </Show>
    </div>
  );
}
