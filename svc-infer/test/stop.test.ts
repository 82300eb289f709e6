import { Rng } from '@lab/engine';
import { describe, expect, it } from 'vitest';
import { StopMatcher } from '../src/sampling/stop.ts';

/** Feeds the pieces; returns what was emitted piece by piece and the stop, if any. */
function run(stops: string[], pieces: string[]) {
  const m = new StopMatcher(stops);
  const emitted: string[] = [];
  let stopped: string | undefined;
  for (const p of pieces) {
    const r = m.push(p);
    emitted.push(r.text);
    if (r.stopped !== undefined) {
      stopped = r.stopped;
      break;
    }
  }
  const tail = m.flush();
  return { emitted, stopped, text: emitted.join('') + tail, tail };
}

/** By definition: the first stop string to complete reading one character at a time (longest on a tie). */
function reference(stops: string[], text: string): { text: string; stopped?: string } {
  for (let end = 1; end <= text.length; end++) {
    const done = stops.filter((s) => text.slice(0, end).endsWith(s)).sort((a, b) => b.length - a.length);
    if (done.length > 0) return { text: text.slice(0, end - done[0].length), stopped: done[0] };
  }
  return { text };
}

describe('stop strings', () => {
  it('hold back a stop string split across tokens and never stream it', () => {
    const r = run(['END'], ['The e', 'nd is ', 'E', 'N', 'D and more']);
    expect(r.emitted).toEqual(['The e', 'nd is ', '', '', '']);
    expect(r.stopped).toBe('END');
    expect(r.text).toBe('The end is ');
  });

  it('release held text once it can no longer become a stop string', () => {
    const m = new StopMatcher(['</s>']);
    expect(m.push('a <')).toEqual({ text: 'a ' });
    expect(m.pending).toBe('<');
    expect(m.push('/')).toEqual({ text: '' });
    expect(m.push('b>')).toEqual({ text: '</b>' });
    expect(m.pending).toBe('');
  });

  it('flush returns what is held at the end of generation', () => {
    const r = run(['\n\nUser:'], ['Sure.', '\n', '\nUs']);
    expect(r.emitted).toEqual(['Sure.', '', '']);
    expect(r.stopped).toBeUndefined();
    expect(r.tail).toBe('\n\nUs');
    expect(r.text).toBe('Sure.\n\nUs');
  });

  it('with several stop strings, the first to complete wins, whatever the token boundaries', () => {
    // "\n" completes before "\n\n" could: the longer one never gets the chance
    expect(run(['\n\n', '\n'], ['a\n', '\nb'])).toMatchObject({ text: 'a', stopped: '\n' });
    expect(run(['\n\n', '\n'], ['a\n\nb'])).toMatchObject({ text: 'a', stopped: '\n' });
    // "bc" completes inside "abcd" before "abcd" does, in one piece or in four
    expect(run(['abcd', 'bc'], ['xabcd'])).toMatchObject({ text: 'xa', stopped: 'bc' });
    expect(run(['abcd', 'bc'], ['x', 'a', 'b', 'c', 'd'])).toMatchObject({ text: 'xa', stopped: 'bc' });
    // both complete on the same character: the longer, which starts earlier
    expect(run(['ab', 'xab'], ['zxab'])).toMatchObject({ text: 'z', stopped: 'xab' });
    expect(run(['ab', 'xab'], ['z', 'x', 'a', 'b'])).toMatchObject({ text: 'z', stopped: 'xab' });
  });

  it('hold back while the text could still become the longer of two stop strings sharing a prefix', () => {
    const m = new StopMatcher(['<|end|>', '<|endoftext|>']);
    expect(m.push('ok<|end')).toEqual({ text: 'ok' });
    expect(m.push('of')).toEqual({ text: '' });
    expect(m.push('text|>')).toEqual({ text: '', stopped: '<|endoftext|>' });
  });

  it('discard everything after the stop', () => {
    const m = new StopMatcher(['#']);
    expect(m.push('a#b')).toEqual({ text: 'a', stopped: '#' });
    expect(m.stopped).toBe('#');
    expect(m.push('more')).toEqual({ text: '' });
    expect(m.flush()).toBe('');
  });

  it('pass text through untouched without stop strings, and refuse an empty one', () => {
    expect(run([], ['a', 'b c', ''])).toMatchObject({ emitted: ['a', 'b c', ''], text: 'ab c' });
    expect(() => new StopMatcher(['x', ''])).toThrow(/stop.1: must be a non-empty string/);
  });

  it('match the character-by-character definition for any split, never emitting what it must retract', () => {
    const rng = new Rng(31);
    const alphabet = 'ab\n';
    const word = (n: number) => Array.from({ length: n }, () => alphabet[rng.int(alphabet.length)]).join('');
    for (let trial = 0; trial < 3000; trial++) {
      const stops = Array.from({ length: 1 + rng.int(3) }, () => word(1 + rng.int(4)));
      const text = word(rng.int(16));
      const pieces: string[] = [];
      for (let i = 0; i < text.length; ) {
        const n = rng.int(5);
        pieces.push(text.slice(i, i + n));
        i += n;
      }
      const expected = reference(stops, text);
      const m = new StopMatcher(stops);
      let shown = '';
      let fed = '';
      let stopped: string | undefined;
      for (const p of pieces) {
        fed += p;
        const r = m.push(p);
        shown += r.text;
        // what is shown is final: it stays a prefix of the answer
        expect(expected.text.startsWith(shown), JSON.stringify({ stops, pieces, shown })).toBe(true);
        if (r.stopped !== undefined) {
          stopped = r.stopped;
          break;
        }
        // and only what could still start a stop string is held: the longest such tail
        const held = fed.slice(shown.length);
        expect(held).toBe(m.pending);
        for (let k = held.length + 1; k <= fed.length; k++)
          expect(stops.some((s) => s.length > k && s.startsWith(fed.slice(fed.length - k)))).toBe(false);
      }
      shown += m.flush();
      expect({ text: shown, stopped }, JSON.stringify({ stops, pieces })).toEqual(expected);
    }
  });
});
