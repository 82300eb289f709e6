import type { EncodedToken } from '../../api.ts';
import { formatCount } from '../../components/format.ts';

/** Number of pastel colours the token spans cycle through (classes `.tok-c0` … `.tok-c7` in styles.css). */
export const COLOURS = 8;

/** Beyond this many tokens (a long book chapter) only the first ones are drawn; counts still cover all. */
export const MAX_SPANS = 25_000;

/**
 * Replaces the children of `container` with one `<span>` per token (plain DOM, one fragment, one reflow).
 * A page of text is a few thousand tokens; building them with createElement into a DocumentFragment and
 * swapping it in with one replaceChildren keeps this to a few milliseconds, far below a keystroke budget.
 *
 * `start`/`end` are character offsets into `text`. Text between tokens (which a tokenizer should not leave, but
 * a normalising one may) is shown as plain text. A token that covers no new characters — e.g. the second half of
 * a multi-byte character that byte-level BPE split in two — still gets its own span (so the count of spans is
 * the count of tokens), shown as its hex bytes with a dotted outline. Returns the number of spans drawn.
 */
export function renderTokenSpans(
  container: HTMLElement,
  text: string,
  tokens: readonly EncodedToken[],
  maxSpans = MAX_SPANS,
): number {
  const frag = document.createDocumentFragment();
  let cursor = 0;
  const drawn = Math.min(tokens.length, maxSpans);
  for (let i = 0; i < drawn; i++) {
    const t = tokens[i]!;
    const start = Math.max(0, Math.min(t.start, text.length));
    const end = Math.max(0, Math.min(t.end, text.length));
    if (start > cursor) {
      frag.appendChild(document.createTextNode(text.slice(cursor, start)));
      cursor = start;
    }
    const span = document.createElement('span');
    span.dataset.id = String(t.id);
    span.dataset.i = String(i);
    const visible = end > cursor ? text.slice(cursor, end) : '';
    if (visible) {
      span.className = `tok tok-c${i % COLOURS}`;
      span.textContent = visible;
      cursor = end;
    } else {
      // No new characters: this token holds more bytes of a character an earlier token started (byte-level
      // BPE splits rare characters such as 東 or 🙂 into several byte tokens). Show its bytes.
      span.className = `tok tok-c${i % COLOURS} tok-partial`;
      span.textContent = t.bytes ? t.bytes.replace(/(..)(?=.)/g, '$1 ') : '\u00b7';
    }
    frag.appendChild(span);
  }
  if (drawn < tokens.length) {
    const more = document.createElement('em');
    more.className = 'tok-more';
    more.textContent = ` … ${formatCount(tokens.length - drawn)} more tokens not drawn`;
    frag.appendChild(more);
  } else if (cursor < text.length) {
    frag.appendChild(document.createTextNode(text.slice(cursor)));
  }
  container.replaceChildren(frag);
  return drawn;
}

/** Makes whitespace visible in short token strings: space → ␣, newline → ↵, tab → ⇥. */
export function visibleWhitespace(s: string): string {
  return s.replace(/ /g, '\u2423').replace(/\n/g, '\u21b5').replace(/\r/g, '\u240d').replace(/\t/g, '\u21e5');
}
