// Statistics of a version (counts, a length histogram, the most frequent word n-grams) and tokenizing it into
// the shards a trainer reads.
import { createSignal, For, onCleanup, Show } from 'solid-js';
import {
  type DataJobProgress,
  type Dataset,
  type DatasetStats,
  errorText,
  type ShardIndex,
} from '../../api.ts';
import { dataPageApi } from './api.ts';
import { fmt, followDataJob, Progress } from './job.tsx';

/**
 * The service gives each bucket's inclusive upper bound; bucket i holds lengths above bound i-1 (above 0 for
 * the first). A tick sits at a bar's left edge, so it reads the bucket's lower bound.
 */
export function bucketRange(bounds: number[], i: number): { lower: number; upper: number; open: boolean } {
  const upper = bounds[i] ?? 0;
  return { lower: i === 0 ? 0 : (bounds[i - 1] ?? 0), upper, open: upper >= Number.MAX_SAFE_INTEGER };
}

export function Histogram(props: { bounds: number[]; counts: number[] }) {
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
        {(c, i) => {
          const r = () => bucketRange(props.bounds, i());
          const range = () =>
            r().open ? `over ${fmt(r().lower)}` : `${fmt(i() === 0 ? 1 : r().lower + 1)}–${fmt(r().upper)}`;
          return (
            <div class="hist-col" title={`${range()} characters: ${fmt(c)} documents`} data-range={range()}>
              <div class="hist-bar" style={{ height: `${(100 * c) / max()}%` }} />
              <span class="hist-label">{fmt(r().lower)}</span>
            </div>
          );
        }}
      </For>
    </div>
  );
}

export function StatsCard(props: { dataset: Dataset; version: number; tokenizers: string[] }) {
  const [tok, setTok] = createSignal('gpt2');
  const [ngram, setNgram] = createSignal(2);
  const [stats, setStats] = createSignal<DatasetStats>();
  const [statsErr, setStatsErr] = createSignal<string>();
  const [loading, setLoading] = createSignal(false);

  const loadStats = async () => {
    setLoading(true);
    setStatsErr(undefined);
    try {
      setStats(
        await dataPageApi.stats(props.dataset.id, props.version, {
          tokenizer: tok(),
          ngram: ngram(),
          topK: 20,
        }),
      );
    } catch (err) {
      setStatsErr(errorText(err));
    } finally {
      setLoading(false);
    }
  };

  return (
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
        <label class="inline">
          Top word{' '}
          <select name="ngram" value={ngram()} onChange={(e) => setNgram(Number(e.currentTarget.value))}>
            <For each={[1, 2, 3, 4]}>{(n) => <option value={n}>{n}-grams</option>}</For>
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
            <h3 class="small">Document length (characters; each tick is the lower end of its bar)</h3>
            <Histogram bounds={st().lengthBucketBounds} counts={st().lengthBucketCounts} />
            <h3 class="small">Most frequent word {ngram()}-grams</h3>
            <p class="muted small">
              Repeated phrases show what the model will see most: boilerplate, headers, speaker names.
            </p>
            <div class="table-scroll">
              <table class="table" data-testid="data-ngrams">
                <thead>
                  <tr>
                    <th>n-gram</th>
                    <th class="num">count</th>
                  </tr>
                </thead>
                <tbody>
                  <For each={st().topNgrams}>
                    {(g) => (
                      <tr>
                        <td>
                          <code>{g.ngram}</code>
                        </td>
                        <td class="num">{fmt(g.count)}</td>
                      </tr>
                    )}
                  </For>
                </tbody>
              </table>
            </div>
          </>
        )}
      </Show>
    </div>
  );
}

export function ShardsCard(props: { dataset: Dataset; version: number; tokenizers: string[] }) {
  const [shardTok, setShardTok] = createSignal('char');
  const [shardProgress, setShardProgress] = createSignal<DataJobProgress>();
  const [index, setIndex] = createSignal<ShardIndex>();
  const [shardErr, setShardErr] = createSignal<string>();
  let stop: (() => void) | undefined;
  onCleanup(() => stop?.());

  const tokenize = async (e: SubmitEvent) => {
    e.preventDefault();
    setShardErr(undefined);
    setIndex(undefined);
    try {
      const { jobId } = await dataPageApi.shardsJob(props.dataset.id, props.version, {
        tokenizer: shardTok(),
      });
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
  );
}
