import { createMemo, createSignal, For, onCleanup, onMount, Show } from 'solid-js';
import type { TokenEvent } from '../../api.ts';
import { pct, prob, showToken } from './generation.ts';

/** Red (unlikely) → green (likely): the token view's background for a token of probability `p`. */
export function probColour(p: number): string {
  const hue = Math.round(130 * Math.max(0, Math.min(1, p)));
  return `hsl(${hue} 80% 84%)`;
}

/**
 * A token's text as drawn in its span: newlines become ↵ (the line break itself goes after the span). Spaces stay
 * spaces: the span's background already shows them, and ␣ in every gap makes char-level text hard to read.
 */
function drawn(token: string): string {
  if (token === '') return '∅';
  return token.replace(/\n/g, '↵');
}

/** The line breaks of a token, drawn after its span so the span stays on one line and is easy to hover. */
const breaks = (token: string): string => token.replace(/[^\n]/g, '');

interface Hover {
  i: number;
  left: number;
  top: number;
}

/**
 * Generated tokens coloured by the probability the model gave them; hovering shows the most likely alternatives,
 * clicking picks the token for the sampler view. `shownChars` is how much of the tokens' text the transcript
 * shows: tokens past it are marked held back (while streaming) or cut (a stop string, once done).
 */
export default function TokenView(props: {
  tokens: readonly TokenEvent[];
  selected?: number;
  onSelect?: (index: number) => void;
  shownChars?: number;
  ended?: boolean;
  testId?: string;
}) {
  const [hover, setHover] = createSignal<Hover>();
  let wrap!: HTMLDivElement;
  let text!: HTMLDivElement;

  /** Index of the first token that reaches past the shown text (tokens.length when all are shown). */
  const firstHidden = createMemo(() => {
    const limit = props.shownChars;
    if (limit === undefined) return props.tokens.length;
    let chars = 0;
    for (let i = 0; i < props.tokens.length; i++) {
      chars += props.tokens[i]!.token.length;
      if (chars > limit) return i;
    }
    return props.tokens.length;
  });

  const showTip = (el: HTMLElement) => {
    const box = wrap.getBoundingClientRect();
    const r = el.getBoundingClientRect();
    setHover({
      i: Number(el.dataset.i),
      left: Math.max(0, Math.min(r.left - box.left, box.width - 260)),
      top: r.bottom - box.top + 4,
    });
  };
  const spanAt = (i: number) => text.querySelector<HTMLElement>(`.ptok[data-i="${i}"]`);

  // One delegated listener for every token, not one per span (answers grow to thousands of tokens).
  onMount(() => {
    const over = (e: MouseEvent) => {
      const el = (e.target as HTMLElement).closest<HTMLElement>('.ptok');
      if (el) showTip(el);
    };
    const click = (e: MouseEvent) => {
      const el = (e.target as HTMLElement).closest<HTMLElement>('.ptok');
      if (el) props.onSelect?.(Number(el.dataset.i));
    };
    const leave = () => setHover(undefined);
    text.addEventListener('mouseover', over);
    text.addEventListener('click', click);
    wrap.addEventListener('mouseleave', leave);
    onCleanup(() => {
      text.removeEventListener('mouseover', over);
      text.removeEventListener('click', click);
      wrap.removeEventListener('mouseleave', leave);
    });
  });

  /** Keyboard: arrows walk the tokens (selecting each for the sampler view), Escape hides the card. */
  const onKey = (e: KeyboardEvent) => {
    const n = props.tokens.length;
    if (!n) return;
    if (e.key === 'Escape') return setHover(undefined);
    const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
    if (!step) return;
    e.preventDefault();
    const i = Math.max(0, Math.min(n - 1, (props.selected ?? hover()?.i ?? (step > 0 ? -1 : n)) + step));
    props.onSelect?.(i);
    const el = spanAt(i);
    if (el) showTip(el);
  };

  const hovered = () => {
    const h = hover();
    return h ? props.tokens[h.i] : undefined;
  };

  return (
    <div class="ptok-wrap" ref={wrap}>
      <div
        class="ptok-text"
        ref={text}
        data-testid={props.testId ?? 'token-view'}
        data-count={props.tokens.length}
        role="listbox"
        aria-label="Generated tokens: arrow keys step through them"
        tabIndex={0}
        onKeyDown={onKey}
        onBlur={() => setHover(undefined)}
      >
        <For each={props.tokens}>
          {(t, i) => (
            <>
              <span
                role="option"
                tabIndex={-1}
                aria-selected={props.selected === i()}
                class="ptok"
                classList={{
                  selected: props.selected === i(),
                  held: i() >= firstHidden() && !props.ended,
                  cut: i() >= firstHidden() && !!props.ended,
                }}
                data-i={i()}
                data-p={prob(t.logprob).toFixed(4)}
                style={{ background: probColour(prob(t.logprob)) }}
              >
                {drawn(t.token)}
              </span>
              {breaks(t.token)}
            </>
          )}
        </For>
      </div>
      <Show when={hovered()}>
        {(t) => (
          <div
            class="ptok-tip"
            data-testid="token-tip"
            style={{ left: `${hover()?.left ?? 0}px`, top: `${hover()?.top ?? 0}px` }}
          >
            <TokenTip token={t()} />
          </div>
        )}
      </Show>
    </div>
  );
}

/** The hover card: the token, its probability, and the alternatives the model weighed at that position. */
function TokenTip(props: { token: TokenEvent }) {
  const p = () => prob(props.token.logprob);
  const inTop = () => props.token.top.some((a) => a.id === props.token.id);
  return (
    <>
      <div class="tip-head">
        <span class="mono tip-token">{showToken(props.token.token)}</span>
        <span>
          <strong>{pct(p())}</strong> <span class="tip-dim">id {props.token.id}</span>
        </span>
      </div>
      <div class="tip-dim">
        log-probability {props.token.logprob.toFixed(3)} · token #{props.token.index + 1}
      </div>
      <Show
        when={props.token.top.length}
        fallback={<div class="tip-dim">No alternatives: raise “Alternatives” in the settings.</div>}
      >
        <div class="tip-label">The model’s top choices here</div>
        <ol class="tip-alts">
          <For each={props.token.top}>
            {(a) => (
              <li data-alt-id={a.id} classList={{ chosen: a.id === props.token.id }}>
                <span class="mono tip-alt">{showToken(a.text)}</span>
                <span class="tip-bar">
                  <span class="tip-fill" style={{ width: `${Math.max(1, prob(a.logprob) * 100)}%` }} />
                </span>
                <span class="tip-pct">{pct(prob(a.logprob))}</span>
              </li>
            )}
          </For>
        </ol>
        <Show when={!inTop()}>
          <div class="tip-dim">The sampled token was not among them: a lucky draw from the tail.</div>
        </Show>
      </Show>
    </>
  );
}

/** The colour key under a token view. */
export function ProbLegend() {
  return (
    <div class="prob-legend small muted">
      <span>unlikely</span>
      <span class="prob-scale" />
      <span>likely</span>
      <span>· hover a token for the alternatives, click it for the sampler view</span>
    </div>
  );
}
