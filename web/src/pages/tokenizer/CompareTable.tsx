import { createEffect, createSignal, For, on, onCleanup, Show } from 'solid-js';
import { api, type CompareRow, errorText, isAbort, type TokenizerInfo } from '../../api.ts';
import { formatCount } from '../../components/format.ts';

const COMPARE_DEBOUNCE_MS = 250;
const DEFAULT_MAX = 6;
/** The gateway compares at most this many tokenizers per request. */
const MAX_COMPARE = 8;

/**
 * Side-by-side token counts of the same text under several tokenizers. `include` (a tokenizer just trained)
 * joins the comparison as soon as it is listed, taking the place of the last one chosen when all are taken.
 */
export default function CompareTable(props: { tokenizers: TokenizerInfo[]; text: string; include?: string }) {
  // Which tokenizers take part; undefined until the list arrives, then the first few by default.
  const [chosen, setChosen] = createSignal<Set<string>>();
  const [rows, setRows] = createSignal<CompareRow[]>([]);
  const [error, setError] = createSignal<string>();
  const [pending, setPending] = createSignal(false);

  createEffect(() => {
    const names = props.tokenizers.map((t) => t.name);
    const cur = chosen();
    if (!cur) {
      if (names.length) setChosen(new Set(names.slice(0, DEFAULT_MAX)));
      return;
    }
    // Drop names that no longer exist.
    const kept = [...cur].filter((n) => names.includes(n));
    if (kept.length !== cur.size) setChosen(new Set(kept));
  });

  /** The `include` already added: unticking it afterwards is the user's choice. */
  let offered: string | undefined;
  createEffect(
    on(
      () => [props.include, props.tokenizers, chosen()] as const,
      ([name, list, cur]) => {
        if (!name || name === offered || !cur || !list.some((t) => t.name === name)) return;
        offered = name;
        if (cur.has(name)) return;
        const kept = [...cur];
        if (kept.length >= MAX_COMPARE) kept.pop();
        setChosen(new Set([...kept, name]));
      },
    ),
  );

  const toggle = (name: string, checked: boolean) => {
    const next = new Set(chosen() ?? []);
    if (checked) next.add(name);
    else next.delete(name);
    setChosen(next);
  };

  // Keep the order of the service's list.
  const selectedNames = () => {
    const set = chosen();
    return set ? props.tokenizers.map((t) => t.name).filter((n) => set.has(n)) : [];
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  let ctrl: AbortController | undefined;
  createEffect(
    on(
      () => [selectedNames().join('\u0000'), props.text] as const,
      ([key, text]) => {
        if (timer) clearTimeout(timer);
        const names = key ? key.split('\u0000') : [];
        if (names.length === 0) {
          ctrl?.abort();
          setRows([]);
          setPending(false);
          return;
        }
        setPending(true);
        timer = setTimeout(async () => {
          ctrl?.abort();
          const mine = new AbortController();
          ctrl = mine;
          try {
            const res = await api.compare(names, text, { signal: mine.signal });
            if (mine.signal.aborted) return;
            setRows(res.results ?? []);
            setError(undefined);
          } catch (err) {
            if (isAbort(err) || mine.signal.aborted) return;
            setError(errorText(err));
          }
          setPending(false);
        }, COMPARE_DEBOUNCE_MS);
      },
    ),
  );
  onCleanup(() => {
    if (timer) clearTimeout(timer);
    ctrl?.abort();
  });

  const maxTokens = () => Math.max(1, ...rows().map((r) => r.tokens));
  const fewest = () => (rows().length ? Math.min(...rows().map((r) => r.tokens)) : 0);

  return (
    <div class="card">
      <div class="card-head">
        <h2>Compare tokenizers</h2>
        <span class="muted small">
          the text above, under each tokenizer · fewer tokens = more text fits the context
        </span>
      </div>
      <Show when={props.tokenizers.length > 0} fallback={<p class="muted">No tokenizers to compare yet.</p>}>
        <div class="chips">
          <For each={props.tokenizers}>
            {(t) => (
              <label class="chip" classList={{ on: chosen()?.has(t.name) ?? false }}>
                <input
                  type="checkbox"
                  checked={chosen()?.has(t.name) ?? false}
                  disabled={!chosen()?.has(t.name) && (chosen()?.size ?? 0) >= MAX_COMPARE}
                  onChange={(e) => toggle(t.name, e.currentTarget.checked)}
                />
                {t.name}
              </label>
            )}
          </For>
        </div>
      </Show>
      <Show when={error()}>
        <div class="banner error small" role="alert">
          {error()}
        </div>
      </Show>
      <table class="table compare" classList={{ stale: pending() }} data-testid="compare-table">
        <thead>
          <tr>
            <th>Tokenizer</th>
            <th class="num">Tokens</th>
            <th class="bar-col" />
            <th class="num">Characters</th>
            <th class="num">Bytes</th>
            <th class="num">Chars / token</th>
            <th class="num">Bytes / token</th>
          </tr>
        </thead>
        <tbody>
          <For
            each={rows()}
            fallback={
              // While the first comparison runs, a row per chosen tokenizer: the table has its height
              // already, and what is below does not jump when the numbers arrive.
              <Show
                when={pending()}
                fallback={
                  <tr>
                    <td colSpan={7} class="muted">
                      Pick at least one tokenizer.
                    </td>
                  </tr>
                }
              >
                <For each={selectedNames()}>
                  {(name) => (
                    <tr data-pending={name}>
                      <td class="mono strong">{name}</td>
                      <td colSpan={6} class="muted">
                        comparing…
                      </td>
                    </tr>
                  )}
                </For>
              </Show>
            }
          >
            {(r) => (
              <tr data-tokenizer={r.tokenizer}>
                <td class="mono strong">
                  {r.tokenizer}
                  <Show when={r.tokens === fewest() && rows().length > 1}>
                    <span class="badge">fewest</span>
                  </Show>
                </td>
                <td class="num strong">{formatCount(r.tokens)}</td>
                <td class="bar-col">
                  <div class="bar">
                    <div class="bar-fill" style={{ width: `${(100 * r.tokens) / maxTokens()}%` }} />
                  </div>
                </td>
                <td class="num">{formatCount(r.characters)}</td>
                <td class="num">{formatCount(r.bytes)}</td>
                <td class="num">{r.charsPerToken.toFixed(2)}</td>
                <td class="num">{r.bytesPerToken.toFixed(2)}</td>
              </tr>
            )}
          </For>
        </tbody>
      </table>
    </div>
  );
}
