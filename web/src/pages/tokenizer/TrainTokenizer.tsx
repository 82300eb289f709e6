import { createSignal, onCleanup, Show } from 'solid-js';
import { api, errorText, type TrainProgress } from '../../api.ts';

type Source = 'text' | 'dataset';

/** Form to train a BPE tokenizer, with live progress from `GET /api/tokenize/train/{jobId}/events` (SSE). */
export default function TrainTokenizer(props: { sampleText: string; onTrained: (name: string) => void }) {
  const [name, setName] = createSignal('my-bpe');
  const [vocabSize, setVocabSize] = createSignal(1024);
  const [source, setSource] = createSignal<Source>('text');
  const [trainText, setTrainText] = createSignal('');
  const [datasetId, setDatasetId] = createSignal('');
  const [submitting, setSubmitting] = createSignal(false);
  const [error, setError] = createSignal<string>();
  const [jobId, setJobId] = createSignal<string>();
  const [progress, setProgress] = createSignal<TrainProgress>();
  const [streamLost, setStreamLost] = createSignal(false);

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
      let p: TrainProgress;
      try {
        p = JSON.parse(msg.data) as TrainProgress;
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
    const n = name().trim();
    const v = vocabSize();
    const body =
      source() === 'dataset'
        ? { name: n, vocabSize: v, datasetId: datasetId().trim() }
        : { name: n, vocabSize: v, text: trainText() || props.sampleText };
    setSubmitting(true);
    try {
      const res = await api.trainTokenizer(body);
      setJobId(res.jobId);
      setProgress({ state: 'running', merges: 0, total: 0 });
      follow(res.jobId, n);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setSubmitting(false);
    }
  };

  const indeterminate = () => progress()?.state === 'running' && !progress()?.total;
  const pct = () => {
    const p = progress();
    if (!p) return 0;
    if (p.state === 'done') return 100;
    return p.total > 0 ? Math.min(100, (100 * p.merges) / p.total) : 0;
  };

  return (
    <div class="card">
      <div class="card-head">
        <h2>Train a tokenizer</h2>
      </div>
      <p class="muted small">
        Train your own byte-level BPE: it starts from the 256 byte values and learns{' '}
        <em>vocabulary size − 256</em> merges from your text. A tokenizer trained on your data packs that kind
        of text into fewer tokens.
      </p>
      <form class="form" data-testid="train-form" onSubmit={submit}>
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
              Dataset id
              <input
                name="datasetId"
                required
                value={datasetId()}
                onInput={(e) => setDatasetId(e.currentTarget.value)}
                placeholder="from the Data page"
              />
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
        <div class="form-actions">
          <button type="submit" class="btn primary" disabled={running()}>
            {running() ? 'Training…' : 'Train'}
          </button>
        </div>
      </form>
      <Show when={error()}>
        <div class="banner error small" role="alert">
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
                <>
                  <b>{p().state}</b> · {p().merges.toLocaleString()}
                  {p().total ? ` / ${p().total.toLocaleString()}` : ''} merges
                  <Show when={p().error?.message ?? p().message}>
                    {(m) => (
                      <>
                        {' · '}
                        {m()}
                        <Show when={p().error?.field}> (field “{p().error?.field}”)</Show>
                      </>
                    )}
                  </Show>
                </>
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
