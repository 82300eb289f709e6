import { createResource, createSignal, For, onCleanup, Show } from 'solid-js';
import { api, dataApi, errorText } from '../../api.ts';
import { formatCount } from '../../components/format.ts';
import {
  mergeCeiling,
  startTokenizerTraining,
  type TokenizerTrainProgress,
  type TrainTokenizerBody,
  textMergeCeiling,
} from './train-api.ts';

type Source = 'text' | 'dataset';

const n = formatCount;

/** Form to train a BPE tokenizer, with live progress from `GET /api/tokenize/train/{jobId}/events` (SSE). */
export default function TrainTokenizer(props: { sampleText: string; onTrained: (name: string) => void }) {
  const [name, setName] = createSignal('my-bpe');
  const [vocabSize, setVocabSize] = createSignal(1024);
  const [source, setSource] = createSignal<Source>('text');
  const [trainText, setTrainText] = createSignal('');
  const [datasetKey, setDatasetKey] = createSignal('');
  const [submitting, setSubmitting] = createSignal(false);
  /** About the form as it was submitted (a name already taken, no version picked): any change clears it. */
  const [error, setError] = createSignal<string>();
  const [jobId, setJobId] = createSignal<string>();
  const [progress, setProgress] = createSignal<TokenizerTrainProgress>();
  const [streamLost, setStreamLost] = createSignal(false);

  // Listed only once "a dataset" is chosen, and again on focus: datasets made on the Data page meanwhile appear.
  const [datasets, { refetch: refetchDatasets }] = createResource(
    () => source() === 'dataset',
    () => dataApi.list().then((r) => r.datasets),
  );
  const versions = () =>
    (datasets.error ? [] : (datasets() ?? [])).flatMap((d) =>
      [...d.versions]
        .sort((a, b) => b.version - a.version)
        .map((v) => ({
          key: `${d.id}@${v.version}`,
          label: `${d.name} v${v.version} (${v.step}, ${n(v.documents)} documents, ${n(v.characters)} characters)`,
          dataset: d,
          version: v,
        })),
    );
  const picked = () => versions().find((o) => o.key === datasetKey());

  /** Merges the vocabulary asks for, and a warning when the chosen text cannot supply that many. */
  const wanted = () => (Number.isFinite(vocabSize()) ? Math.max(0, vocabSize() - 256) : 0);
  const warning = () => {
    if (!wanted()) return undefined;
    if (source() === 'text') {
      const { bytes, words, ceiling } = textMergeCeiling(trainText() || props.sampleText);
      if (ceiling >= wanted()) return undefined;
      return (
        `This text is ${n(bytes)} bytes in ${n(words)} words: every merge shortens it by at least one token, so ` +
        `it can teach at most ${n(ceiling)} merges, and a vocabulary of ${n(vocabSize())} asks for ${n(wanted())}. ` +
        'Training will stop early (in practice far below that bound, once no pair occurs twice): add text or ' +
        'lower the vocabulary size.'
      );
    }
    const p = picked();
    if (!p) return undefined;
    // Stored bytes count each document's JSON too, so this bound is looser than the text's own.
    const ceiling = mergeCeiling(p.version.bytes || 3 * p.version.characters, p.version.documents);
    if (ceiling >= wanted()) return undefined;
    return (
      `${p.dataset.name} v${p.version.version} holds ${n(p.version.characters)} characters: at most ${n(ceiling)} ` +
      `merges, and a vocabulary of ${n(vocabSize())} asks for ${n(wanted())}. Training will stop early: pick a ` +
      'larger dataset or lower the vocabulary size.'
    );
  };

  let es: EventSource | undefined;
  const closeStream = () => {
    es?.close();
    es = undefined;
  };
  onCleanup(closeStream);

  const running = () =>
    submitting() || (!!jobId() && progress()?.state !== 'done' && progress()?.state !== 'failed');

  const follow = (id: string, trainedName: string) => {
    closeStream();
    setStreamLost(false);
    const src = new EventSource(api.trainEventsUrl(id));
    es = src;
    // The gateway names these messages `progress`; accept unnamed ones (`message`) too.
    const onProgress = (msg: MessageEvent<string>) => {
      let p: TokenizerTrainProgress;
      try {
        p = JSON.parse(msg.data) as TokenizerTrainProgress;
      } catch {
        return;
      }
      setStreamLost(false);
      setProgress(p);
      if (p.state === 'done' || p.state === 'failed') {
        closeStream();
        if (p.state === 'done') props.onTrained(trainedName);
      }
    };
    src.addEventListener('progress', onProgress);
    src.addEventListener('message', onProgress);
    src.onerror = () => {
      // EventSource reconnects by itself; say so only while the job is not finished.
      if (es === src) setStreamLost(true);
    };
  };

  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    setError(undefined);
    setProgress(undefined);
    setJobId(undefined);
    const trainedName = name().trim();
    const v = vocabSize();
    let body: TrainTokenizerBody;
    if (source() === 'dataset') {
      const p = picked();
      if (!p) return setError('Pick a dataset version from the list (make one on the Data page).');
      body = { name: trainedName, vocabSize: v, datasetId: p.dataset.id, datasetVersion: p.version.version };
    } else body = { name: trainedName, vocabSize: v, text: trainText() || props.sampleText };
    setSubmitting(true);
    try {
      const res = await startTokenizerTraining(body);
      setJobId(res.jobId);
      setProgress({ state: 'running', merges: 0, total: 0 });
      follow(res.jobId, trainedName);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setSubmitting(false);
    }
  };

  const reading = () => progress()?.state === 'running' && progress()?.phase === 'reading';
  /** What the bar measures now: documents while reading a dataset, merges afterwards. */
  const counted = () => {
    const p = progress();
    if (!p) return { done: 0, total: 0 };
    return reading()
      ? { done: p.documentsRead ?? 0, total: p.documents ?? 0 }
      : { done: p.merges, total: p.total };
  };
  const indeterminate = () => progress()?.state === 'running' && !counted().total;
  const pct = () => {
    const p = progress();
    if (!p) return 0;
    if (p.state === 'done') return 100;
    const c = counted();
    return c.total > 0 ? Math.min(100, (100 * c.done) / c.total) : 0;
  };

  return (
    <div class="card">
      <div class="card-head">
        <h2>Train a tokenizer</h2>
      </div>
      <p class="muted small">
        Train your own byte-level BPE: it starts from the 256 byte values and learns up to{' '}
        <em>vocabulary size − 256</em> merges from your text, each time joining the pair of tokens seen most
        often. It stops sooner when no pair occurs twice. A tokenizer trained on your data packs that kind of
        text into fewer tokens.
      </p>
      <form
        class="form"
        data-testid="train-form"
        onSubmit={submit}
        onInput={() => setError(undefined)}
        onChange={() => setError(undefined)}
      >
        <label>
          Name
          <input
            name="name"
            required
            pattern="[A-Za-z0-9][A-Za-z0-9._\-]*"
            maxLength={64}
            title="letters, digits, dot, dash, underscore"
            value={name()}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </label>
        <label>
          Vocabulary size
          <input
            name="vocabSize"
            type="number"
            min={256}
            max={200000}
            step={1}
            required
            value={vocabSize()}
            onInput={(e) => setVocabSize(e.currentTarget.valueAsNumber)}
          />
        </label>
        <fieldset class="radio-row">
          <legend>Train on</legend>
          <label class="inline">
            <input
              type="radio"
              name="source"
              checked={source() === 'text'}
              onChange={() => setSource('text')}
            />{' '}
            text
          </label>
          <label class="inline">
            <input
              type="radio"
              name="source"
              checked={source() === 'dataset'}
              onChange={() => setSource('dataset')}
            />{' '}
            a dataset
          </label>
        </fieldset>
        <Show
          when={source() === 'text'}
          fallback={
            <label>
              Dataset version{' '}
              <span class="muted small">(its documents are streamed from the data service)</span>
              <select
                name="dataset"
                data-testid="train-dataset"
                value={datasetKey()}
                onFocus={() => void refetchDatasets()}
                onChange={(e) => setDatasetKey(e.currentTarget.value)}
              >
                <option value="">
                  {datasets.loading ? 'loading…' : versions().length ? '— pick one —' : 'no datasets yet'}
                </option>
                <For each={versions()}>{(o) => <option value={o.key}>{o.label}</option>}</For>
              </select>
              <Show when={datasets.error}>
                <span class="small warn-text">
                  The data service did not answer: {errorText(datasets.error)}
                </span>
              </Show>
              <Show when={!datasets.loading && !datasets.error && versions().length === 0}>
                <span class="muted small">
                  Add a dataset on the <a href="#/data">Data page</a> first.
                </span>
              </Show>
            </label>
          }
        >
          <label>
            Training text <span class="muted small">(empty: the text in the box above)</span>
            <textarea
              name="text"
              rows={4}
              value={trainText()}
              onInput={(e) => setTrainText(e.currentTarget.value)}
              placeholder="Paste the text to learn merges from…"
            />
          </label>
        </Show>
        <Show when={warning()}>
          {(w) => (
            <div class="banner warn small" data-testid="train-warning">
              {w()}
            </div>
          )}
        </Show>
        <div class="form-actions">
          <button type="submit" class="btn primary" disabled={running()}>
            {running() ? 'Training…' : 'Train'}
          </button>
        </div>
      </form>
      <Show when={error()}>
        <div class="banner error small" role="alert" data-testid="train-error">
          {error()}
        </div>
      </Show>
      <Show when={jobId()}>
        <div class="train-status">
          <div
            class="progress"
            classList={{
              done: progress()?.state === 'done',
              failed: progress()?.state === 'failed',
              indeterminate: indeterminate(),
            }}
            data-testid="train-progress"
            data-state={progress()?.state ?? ''}
            data-phase={progress()?.phase ?? ''}
            role="progressbar"
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={Math.round(pct())}
          >
            <div class="progress-fill" style={{ width: indeterminate() ? '30%' : `${pct()}%` }} />
          </div>
          <div class="small">
            <Show when={progress()}>
              {(p) => (
                <Show
                  when={p().state !== 'done'}
                  fallback={
                    <span
                      data-testid="train-result"
                      data-merges={p().merges}
                      data-total={p().total}
                      data-stop-reason={p().stopReason ?? ''}
                    >
                      <b>done</b> · {p().message}
                      <Show when={p().documents}>{(d) => <> · {n(d())} documents read from svc-data</>}</Show>
                      <Show when={p().tokenizer}>{(t) => <> · vocabulary of {n(t().vocabSize)}</>}</Show>
                    </span>
                  }
                >
                  <b>{p().state === 'running' ? (reading() ? 'reading' : 'merging') : p().state}</b>
                  <Show when={p().state === 'running'}>
                    {' · '}
                    {n(counted().done)}
                    {counted().total ? ` / ${n(counted().total)}` : ''}{' '}
                    {reading() ? 'documents from svc-data' : 'merges'}
                  </Show>
                  <Show when={p().state === 'failed' && (p().error?.message ?? p().message)}>
                    {(m) => (
                      <>
                        {' · '}
                        {m()}
                        <Show when={p().error?.field}> (field “{p().error?.field}”)</Show>
                      </>
                    )}
                  </Show>
                </Show>
              )}
            </Show>
            <span class="muted"> · job {jobId()}</span>
            <Show when={streamLost()}>
              <span class="muted"> · progress stream interrupted, reconnecting…</span>
            </Show>
          </div>
        </div>
      </Show>
    </div>
  );
}
