import { createEffect, createSignal, For, on, onCleanup, Show } from 'solid-js';
import { api, errorText, isAbort, spacedHex, type TokenizerInfo, type VocabResponse } from '../../api.ts';
import { formatCount } from '../../components/format.ts';
import { visibleWhitespace } from './render.ts';

const PAGE = 100;
/** Byte-level BPE: ids 0–255 are the raw bytes; later ids were made by merges. */
const FIRST_MERGED_ID = 256;

/** The gateway's vocabulary page, whose entries carry the pair merged into them. */
type VocabPage = Omit<VocabResponse, 'entries'> & {
  entries: (VocabResponse['entries'][number] & { merge?: [string, string] })[];
};

const n = formatCount;

/** Pages through a tokenizer's vocabulary, showing for merged tokens the pair they were merged from. */
export default function VocabBrowser(props: { tokenizers: TokenizerInfo[]; initial: string }) {
  const [name, setName] = createSignal('');
  const [offset, setOffset] = createSignal(0);
  const [page, setPage] = createSignal<VocabPage & { name: string; offset: number }>();
  const [error, setError] = createSignal<string>();
  const [loading, setLoading] = createSignal(false);
  const [jump, setJump] = createSignal('');
  const [jumpError, setJumpError] = createSignal<string>();
  /** The id "Go to id" asked for: its row is scrolled to and highlighted once its page is drawn. */
  const [target, setTarget] = createSignal<number>();
  let scroller!: HTMLDivElement;

  // Follow the tokenizer chosen at the top of the page until the user picks another one here.
  createEffect(
    on(
      () => props.initial,
      (initial) => {
        if (initial && initial !== name()) {
          setName(initial);
          setOffset(0);
          setTarget(undefined);
        }
      },
    ),
  );

  let ctrl: AbortController | undefined;
  createEffect(
    on([name, offset], ([tok, off]) => {
      if (!tok) return;
      ctrl?.abort();
      const mine = new AbortController();
      ctrl = mine;
      setLoading(true);
      (api.vocab(tok, off, PAGE, { signal: mine.signal }) as Promise<VocabPage>)
        .then((res) => {
          if (mine.signal.aborted) return;
          setPage({ ...res, name: tok, offset: off });
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

  // Once the page holding the asked-for id is drawn, bring its row into view.
  createEffect(
    on([page, target], ([p, id]) => {
      if (id === undefined || !p || p.name !== name() || p.offset !== Math.floor(id / PAGE) * PAGE) return;
      const row = scroller.querySelector<HTMLElement>(`tr[data-id="${id}"]`);
      if (row) {
        row.scrollIntoView({ block: 'center' });
        setJumpError(undefined);
      } else
        setJumpError(`Id ${n(id)} is not used by ${name()}: its ids skip from one token to the next there.`);
    }),
  );

  /** Size of the vocabulary on screen; 0 until the chosen tokenizer's first page arrives. */
  const total = () => (page()?.name === name() ? (page()?.total ?? 0) : 0);
  const lastShown = () => Math.max(offset(), Math.min(offset() + PAGE, total()) - 1);
  const lastOffset = () => Math.max(0, Math.floor((total() - 1) / PAGE) * PAGE);

  const isBpe = () => props.tokenizers.find((t) => t.name === name())?.kind === 'bpe';

  /** Paging by hand drops the highlight of an earlier "Go to id". */
  const turn = (off: number) => {
    setTarget(undefined);
    setJumpError(undefined);
    setOffset(off);
  };

  const goTo = (e: SubmitEvent) => {
    e.preventDefault();
    const typed = jump().trim();
    const id = Number(typed);
    const size = total();
    if (!/^\d+$/.test(typed) || !Number.isSafeInteger(id)) {
      setJumpError(`Type a token id: a whole number${size ? ` from 0 to ${n(size - 1)}` : ''}.`);
      return;
    }
    // An id past the end is a mistake to point out; showing the last page instead would hide it.
    if (size && id >= size) {
      setJumpError(`Id ${n(id)} is out of range: ${name()} has ids 0 to ${n(size - 1)}.`);
      return;
    }
    setJumpError(undefined);
    setTarget(id);
    setOffset(Math.floor(id / PAGE) * PAGE);
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
              setTarget(undefined);
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
        <form class="inline" onSubmit={goTo} novalidate>
          <input
            class="narrow"
            type="number"
            min={0}
            placeholder="id"
            value={jump()}
            onInput={(e) => setJump(e.currentTarget.value)}
            aria-label="Jump to token id"
            aria-invalid={jumpError() ? 'true' : undefined}
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
      <Show when={jumpError()}>
        <div class="banner error small" role="alert" data-testid="vocab-jump-error">
          {jumpError()}
        </div>
      </Show>
      <div class="pager">
        <button type="button" class="btn small" disabled={offset() === 0} onClick={() => turn(0)}>
          « First
        </button>
        <button
          type="button"
          class="btn small"
          disabled={offset() === 0}
          onClick={() => turn(Math.max(0, offset() - PAGE))}
        >
          ‹ Previous
        </button>
        <span class="small" data-testid="vocab-range">
          <Show when={page()} fallback={loading() ? 'loading…' : '—'}>
            ids {n(offset())}–{n(lastShown())} of {n(total())}
          </Show>
        </span>
        <button
          type="button"
          class="btn small"
          disabled={offset() + PAGE >= total()}
          onClick={() => turn(offset() + PAGE)}
        >
          Next ›
        </button>
        <button
          type="button"
          class="btn small"
          disabled={offset() + PAGE >= total()}
          onClick={() => turn(lastOffset())}
        >
          Last »
        </button>
      </div>
      <div class="table-scroll" ref={scroller}>
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
                const m = e.merge;
                const hit = () => e.id === target();
                return (
                  <tr
                    data-id={e.id}
                    data-highlight={hit() ? 'true' : undefined}
                    aria-current={hit() ? 'true' : undefined}
                    style={
                      hit()
                        ? { background: 'var(--accent-soft)', outline: '2px solid var(--accent)' }
                        : undefined
                    }
                  >
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
                            <span class="muted small"> · merge #{n(e.id - FIRST_MERGED_ID + 1)}</span>
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
