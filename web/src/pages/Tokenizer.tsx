import { createEffect, createMemo, createSignal, For, on, onCleanup, onMount, Show } from 'solid-js';
import { api, type EncodeResponse, errorText, isAbort, spacedHex, type TokenizerInfo } from '../api.ts';
import { formatCount } from '../components/format.ts';
import BpeExplainer from './tokenizer/BpeExplainer.tsx';
import CompareTable from './tokenizer/CompareTable.tsx';
import { renderTokenSpans } from './tokenizer/render.ts';
import TrainTokenizer from './tokenizer/TrainTokenizer.tsx';
import VocabBrowser from './tokenizer/VocabBrowser.tsx';

const ENCODE_DEBOUNCE_MS = 30;

const SAMPLE = `Hello world! A tokenizer cuts text into pieces called tokens.
Common words like "the" are one token; rare ones such as "antidisestablishmentarianism" are split.
Numbers: 2026, 3.14159, 1234567. Code: for (let i = 0; i < 10; i++) { sum += i; }
Other languages often cost more: Küçük ağaç, 東京タワー, Привет мир. Emoji too: 🙂🚀`;

/** Prefer a well-known tokenizer as the first choice; otherwise the first one the service lists. */
function pickDefault(list: TokenizerInfo[]): string | undefined {
  for (const name of ['cl100k_base', 'gpt2', 'o200k_base'])
    if (list.some((t) => t.name === name)) return name;
  return list[0]?.name;
}

export default function TokenizerPage() {
  const [tokenizers, setTokenizers] = createSignal<TokenizerInfo[]>([]);
  const [listError, setListError] = createSignal<string>();
  const [listLoading, setListLoading] = createSignal(true);
  const [selected, setSelected] = createSignal<string>('');
  const [text, setText] = createSignal(SAMPLE);
  /** The tokenizer trained last on this page: offered in Compare beside the ones it is meant to beat. */
  const [trained, setTrained] = createSignal<string>();

  const loadTokenizers = async (select?: string) => {
    setListLoading(true);
    try {
      const res = await api.tokenizers();
      const list = res.tokenizers ?? [];
      setTokenizers(list);
      setListError(undefined);
      if (select && list.some((t) => t.name === select)) setSelected(select);
      else if (!list.some((t) => t.name === selected())) setSelected(pickDefault(list) ?? '');
    } catch (err) {
      setListError(errorText(err));
    } finally {
      setListLoading(false);
    }
  };
  void loadTokenizers();

  const info = () => tokenizers().find((t) => t.name === selected());

  return (
    <div class="tokenizer-page">
      <Show when={listError()}>
        <div class="banner error" role="alert" data-testid="tok-error">
          <strong>The tokenizer service did not answer.</strong> {listError()}{' '}
          <button type="button" class="btn small" onClick={() => void loadTokenizers()}>
            Try again
          </button>
        </div>
      </Show>

      <div class="card">
        <div class="card-head">
          <h2>Try it</h2>
          <label class="inline">
            Tokenizer
            <select
              data-testid="tok-select"
              value={selected()}
              onChange={(e) => setSelected(e.currentTarget.value)}
              disabled={tokenizers().length === 0}
            >
              <Show when={tokenizers().length === 0}>
                <option value="">{listLoading() ? 'loading…' : 'none available'}</option>
              </Show>
              <For each={tokenizers()}>
                {(t) => (
                  <option value={t.name} selected={t.name === selected()}>
                    {t.name} ({t.kind}, {formatCount(t.vocabSize)} tokens{t.builtin ? '' : ', yours'})
                  </option>
                )}
              </For>
            </select>
          </label>
          <Show when={info()}>
            {(i) => (
              <span class="muted small">
                {i().kind === 'bpe'
                  ? 'byte-pair encoding'
                  : i().kind === 'char'
                    ? 'one token per character'
                    : i().kind === 'hf'
                      ? 'Hugging Face tokenizer.json'
                      : i().kind}{' '}
                · vocabulary of {formatCount(i().vocabSize)}
                <Show when={Object.keys(i().specialTokens ?? {}).length}>
                  {(n) => (
                    <span title={Object.keys(i().specialTokens ?? {}).join('  ')}>
                      {' '}
                      · {n()} special token{n() === 1 ? '' : 's'}
                    </span>
                  )}
                </Show>
              </span>
            )}
          </Show>
        </div>
        <LiveTokens tokenizer={selected()} text={text()} onText={setText} />
      </div>

      <CompareTable tokenizers={tokenizers()} text={text()} include={trained()} />

      <div class="two-col">
        <BpeExplainer />
        <TrainTokenizer
          sampleText={text()}
          onTrained={(name) => {
            setTrained(name);
            void loadTokenizers(name);
          }}
        />
      </div>

      <VocabBrowser tokenizers={tokenizers()} initial={selected()} />
    </div>
  );
}

/** The text area and its live tokenization. */
function LiveTokens(props: { tokenizer: string; text: string; onText: (t: string) => void }) {
  let spansEl!: HTMLDivElement;
  let tipEl!: HTMLDivElement;
  const [result, setResult] = createSignal<{
    text: string;
    res: EncodeResponse;
    ms: number;
    renderMs: number;
  }>();
  const [error, setError] = createSignal<string>();
  const [pending, setPending] = createSignal(false);
  const [showIds, setShowIds] = createSignal(false);
  const [allowSpecial, setAllowSpecial] = createSignal(false);

  let timer: ReturnType<typeof setTimeout> | undefined;
  // Requests are not aborted when a newer one starts: while someone types without pause, each answer that is
  // newer than what is on screen is drawn, so the view keeps moving instead of waiting for the typing to stop.
  const ctrl = new AbortController();
  let requested = 0;
  let drawn = 0;

  const encodeNow = async (tokenizer: string, text: string, special: boolean) => {
    const seq = ++requested;
    const t0 = performance.now();
    try {
      const res = await api.encode(tokenizer, text, {
        signal: ctrl.signal,
        allowedSpecial: special ? ['all'] : undefined,
      });
      if (seq <= drawn) return;
      drawn = seq;
      const t1 = performance.now();
      renderTokenSpans(spansEl, text, res.tokens);
      const t2 = performance.now();
      setResult({ text, res, ms: t1 - t0, renderMs: t2 - t1 });
      setError(undefined);
    } catch (err) {
      if (isAbort(err) || seq <= drawn) return;
      drawn = seq;
      // Nothing stale on screen: no spans and no count for a text that could not be encoded.
      spansEl.replaceChildren();
      setResult(undefined);
      setError(errorText(err));
    }
    if (drawn === requested && !timer) setPending(false);
  };

  createEffect(
    on(
      () => [props.tokenizer, props.text, allowSpecial()] as const,
      ([tokenizer, text, special]) => {
        if (timer) clearTimeout(timer);
        timer = undefined;
        if (!tokenizer) return;
        setPending(true);
        timer = setTimeout(() => {
          timer = undefined;
          void encodeNow(tokenizer, text, special);
        }, ENCODE_DEBOUNCE_MS);
      },
    ),
  );
  onCleanup(() => {
    if (timer) clearTimeout(timer);
    ctrl.abort();
  });

  // One delegated hover handler for all spans instead of a listener per span.
  const hideTip = () => {
    tipEl.hidden = true;
  };
  const onOver = (e: MouseEvent) => {
    const span = (e.target as HTMLElement).closest<HTMLElement>('span.tok');
    const r = result();
    if (!span || !r) return hideTip();
    const t = r.res.tokens[Number(span.dataset.i)];
    if (!t) return hideTip();
    tipEl.replaceChildren();
    const line = (label: string, value: string, mono = true) => {
      const row = document.createElement('div');
      const b = document.createElement('b');
      b.textContent = label;
      const v = document.createElement('span');
      if (mono) v.className = 'mono';
      v.textContent = value;
      row.append(b, v);
      tipEl.appendChild(row);
    };
    line('id', String(t.id));
    line('text', JSON.stringify(t.text));
    line('bytes', spacedHex(t.bytes) || '—');
    line('position', `token ${Number(span.dataset.i) + 1} · chars ${t.start}–${t.end}`, false);
    if (span.classList.contains('tok-partial'))
      line('note', 'more bytes of a character split across tokens', false);
    // Below the hovered token, kept inside the box horizontally (positions relative to .tok-spans-wrap).
    tipEl.hidden = false;
    const box = span.getBoundingClientRect();
    const host = spansEl.getBoundingClientRect();
    const left = Math.min(box.left - host.left, host.width - tipEl.offsetWidth);
    tipEl.style.left = `${Math.max(0, left)}px`;
    tipEl.style.top = `${box.bottom - host.top + 6}px`;
  };

  onMount(() => {
    spansEl.addEventListener('mouseover', onOver);
    spansEl.addEventListener('mouseleave', hideTip);
    spansEl.addEventListener('scroll', hideTip, { passive: true });
  });

  const stats = createMemo(() => {
    const r = result();
    if (!r) return undefined;
    const chars = [...r.text].length;
    const bytes = new TextEncoder().encode(r.text).length;
    const n = r.res.tokens.length;
    return { n, chars, bytes, cpt: n ? chars / n : 0 };
  });

  return (
    <div class="live">
      <textarea
        data-testid="tok-input"
        class="tok-input"
        spellcheck={false}
        rows={6}
        value={props.text}
        onInput={(e) => props.onText(e.currentTarget.value)}
        placeholder="Type or paste any text…"
        aria-label="Text to tokenize"
      />
      <div class="tok-stats">
        <span data-testid="tok-count" data-count={stats()?.n ?? ''} class="tok-count">
          <Show
            when={stats()}
            fallback={
              <span class="muted">
                {error()
                  ? 'no tokens (see the error below)'
                  : props.tokenizer
                    ? 'encoding…'
                    : 'no tokenizer selected'}
              </span>
            }
          >
            {(s) => (
              <>
                <b>{formatCount(s().n)}</b> tokens · {formatCount(s().chars)} characters ·{' '}
                {formatCount(s().bytes)} bytes · <b>{s().cpt.toFixed(2)}</b> characters per token
              </>
            )}
          </Show>
        </span>
        <span class="spacer" />
        <span class="tok-options">
          <Show when={result()}>
            {(r) => (
              <span
                class="muted small"
                data-testid="tok-perf"
                title="round trip to the tokenizer service, then drawing the spans"
              >
                encode {r().ms.toFixed(0)} ms · draw {r().renderMs.toFixed(1)} ms
              </span>
            )}
          </Show>
          <label
            class="inline small"
            title="Encode text such as <|endoftext|> as the tokenizer's special token"
          >
            <input
              type="checkbox"
              checked={allowSpecial()}
              onChange={(e) => setAllowSpecial(e.currentTarget.checked)}
              data-testid="tok-special"
            />
            special tokens
          </label>
          <label class="inline small">
            <input
              type="checkbox"
              checked={showIds()}
              onChange={(e) => setShowIds(e.currentTarget.checked)}
            />
            show ids
          </label>
        </span>
      </div>
      <Show when={error()}>
        <div class="banner error small" role="alert" data-testid="tok-encode-error">
          {error()}
          <Show when={/special token/i.test(error() ?? '') && !allowSpecial()}>
            {' '}
            <strong>Tick “special tokens” to encode it as the tokenizer’s single special id.</strong>
          </Show>
        </div>
      </Show>
      <div class="tok-spans-wrap">
        <div
          class="tok-spans"
          classList={{ stale: pending() }}
          data-testid="tok-spans"
          data-count={result()?.res.tokens.length ?? ''}
          data-state={pending() ? 'pending' : 'ready'}
          ref={spansEl}
        />
        <div class="tok-tip" ref={tipEl} hidden />
      </div>
      <Show when={showIds() && result()}>
        {(r) => (
          <div class="tok-ids mono" data-testid="tok-ids">
            [{r().res.ids.join(', ')}]
          </div>
        )}
      </Show>
      <p class="muted small">
        Each coloured box is one token; hover one to see its id and its bytes. The model only ever sees the
        list of ids. A leading space usually belongs to the word after it, which is why “ world” and “world”
        are different tokens.
      </p>
    </div>
  );
}
