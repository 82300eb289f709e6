import { createEffect, createSignal, For, on, onCleanup, Show } from 'solid-js';
import { api, errorText, isAbort, spacedHex, type TokenizerInfo, type VocabResponse } from '../../api.ts';
import { visibleWhitespace } from './render.ts';

const PAGE = 100;
/** Byte-level BPE: ids 0–255 are the raw bytes, merge i made token 256 + i (the gateway's vocab contract). */
const FIRST_MERGED_ID = 256;

/** Pages through a tokenizer's vocabulary, showing for merged tokens the pair they were merged from. */
export default function VocabBrowser(props: { tokenizers: TokenizerInfo[]; initial: string }) {
  const [name, setName] = createSignal('');
  const [offset, setOffset] = createSignal(0);
  const [page, setPage] = createSignal<VocabResponse>();
  const [error, setError] = createSignal<string>();
  const [loading, setLoading] = createSignal(false);
  const [jump, setJump] = createSignal('');

  // Follow the tokenizer chosen at the top of the page until the user picks another one here.
  createEffect(
    on(
      () => props.initial,
      (initial) => {
        if (initial && initial !== name()) {
          setName(initial);
          setOffset(0);
        }
      },
    ),
  );

  let ctrl: AbortController | undefined;
  createEffect(
    on([name, offset], ([n, off]) => {
      if (!n) return;
      ctrl?.abort();
      const mine = new AbortController();
      ctrl = mine;
      setLoading(true);
      api
        .vocab(n, off, PAGE, { signal: mine.signal })
        .then((res) => {
          if (mine.signal.aborted) return;
          setPage(res);
          setError(undefined);
          setLoading(false);
        })
        .catch((err: unknown) => {
          if (isAbort(err) || mine.signal.aborted) return;
          setError(errorText(err));
          setLoading(false);
        });
    }),
  );
  onCleanup(() => ctrl?.abort());

  const total = () => page()?.total ?? 0;
  const lastShown = () => Math.max(offset(), Math.min(offset() + PAGE, total()) - 1);
  const lastOffset = () => Math.max(0, Math.floor((total() - 1) / PAGE) * PAGE);

  const isBpe = () => props.tokenizers.find((t) => t.name === name())?.kind === 'bpe';

  /** The merge that made `id`: the page's merges belong to its ids from max(offset, 256) on. */
  const mergeFor = (id: number): [string, string] | undefined => {
    const p = page();
    if (!p?.merges?.length || id < FIRST_MERGED_ID) return undefined;
    return p.merges[id - Math.max(offset(), FIRST_MERGED_ID)];
  };

  const goTo = (e: SubmitEvent) => {
    e.preventDefault();
    const id = Number.parseInt(jump(), 10);
    if (!Number.isFinite(id) || id < 0) return;
    setOffset(Math.min(Math.floor(id / PAGE) * PAGE, lastOffset()));
  };

  return (
    <div class="card">
      <div class="card-head">
        <h2>Vocabulary and merges</h2>
        <label class="inline">
          Tokenizer
          <select
            value={name()}
            onChange={(e) => {
              setName(e.currentTarget.value);
              setOffset(0);
            }}
            disabled={props.tokenizers.length === 0}
            data-testid="vocab-select"
          >
            <For each={props.tokenizers}>
              {(t) => (
                <option value={t.name} selected={t.name === name()}>
                  {t.name}
                </option>
              )}
            </For>
          </select>
        </label>
        <span class="spacer" />
        <form class="inline" onSubmit={goTo}>
          <input
            class="narrow"
            type="number"
            min={0}
            placeholder="id"
            value={jump()}
            onInput={(e) => setJump(e.currentTarget.value)}
            aria-label="Jump to token id"
          />
          <button type="submit" class="btn small">
            Go to id
          </button>
        </form>
      </div>
      <p class="muted small">
        Every token the tokenizer knows, by id. In a byte-level BPE, ids 0–255 are single bytes and each later
        id was made by one merge of two earlier tokens, in the order shown. Whitespace is shown as ␣ (space)
        and ↵ (newline).
      </p>
      <Show when={error()}>
        <div class="banner error small" role="alert">
          {error()}
        </div>
      </Show>
      <div class="pager">
        <button type="button" class="btn small" disabled={offset() === 0} onClick={() => setOffset(0)}>
          « First
        </button>
        <button
          type="button"
          class="btn small"
          disabled={offset() === 0}
          onClick={() => setOffset(Math.max(0, offset() - PAGE))}
        >
          ‹ Previous
        </button>
        <span class="small" data-testid="vocab-range">
          <Show when={page()} fallback={loading() ? 'loading…' : '—'}>
            ids {offset().toLocaleString()}–{lastShown().toLocaleString()} of {total().toLocaleString()}
          </Show>
        </span>
        <button
          type="button"
          class="btn small"
          disabled={offset() + PAGE >= total()}
          onClick={() => setOffset(offset() + PAGE)}
        >
          Next ›
        </button>
        <button
          type="button"
          class="btn small"
          disabled={offset() + PAGE >= total()}
          onClick={() => setOffset(lastOffset())}
        >
          Last »
        </button>
      </div>
      <div class="table-scroll">
        <table class="table vocab" classList={{ stale: loading() }} data-testid="vocab-table">
          <thead>
            <tr>
              <th class="num">Id</th>
              <th>Token</th>
              <th>Bytes</th>
              <th>Merged from</th>
            </tr>
          </thead>
          <tbody>
            <For
              each={page()?.entries ?? []}
              fallback={
                <tr>
                  <td colSpan={4} class="muted">
                    {loading() ? 'Loading…' : 'No entries.'}
                  </td>
                </tr>
              }
            >
              {(e) => {
                const m = mergeFor(e.id);
                return (
                  <tr data-id={e.id}>
                    <td class="num mono">{e.id}</td>
                    <td>
                      <span class="vtok mono">{visibleWhitespace(e.text)}</span>
                    </td>
                    <td class="mono muted">{spacedHex(e.bytes)}</td>
                    <td class="mono">
                      <Show
                        when={m}
                        fallback={
                          <span class="muted small">
                            {e.id < FIRST_MERGED_ID && isBpe() ? 'a single byte' : ''}
                          </span>
                        }
                      >
                        {(pair) => (
                          <>
                            <span class="vtok">{visibleWhitespace(pair()[0])}</span> +{' '}
                            <span class="vtok">{visibleWhitespace(pair()[1])}</span>
                            <span class="muted small">
                              {' '}
                              · merge #{(e.id - FIRST_MERGED_ID + 1).toLocaleString()}
                            </span>
                          </>
                        )}
                      </Show>
                    </td>
                  </tr>
                );
              }}
            </For>
          </tbody>
        </table>
      </div>
    </div>
  );
}
