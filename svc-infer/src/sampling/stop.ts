// Streaming stop strings: text decoded token by token goes in, text that is safe to show comes out. A
// stop string may arrive split over several tokens, so any tail that could still grow into one is held
// back until it either completes (generation stops, and it is never shown) or cannot (it is released).

export interface StopPush {
  /** Text that can be emitted now. */
  text: string;
  /** The stop string that just completed; the text before it has been emitted and nothing after it is. */
  stopped?: string;
}

export class StopMatcher {
  private readonly stops: readonly string[];
  private readonly longest: number;
  private held = '';
  private stoppedBy: string | undefined;

  constructor(stops: readonly string[]) {
    stops.forEach((s, i) => {
      if (typeof s !== 'string' || s.length === 0)
        throw new RangeError(`stop.${i}: must be a non-empty string`);
    });
    this.stops = [...stops];
    this.longest = Math.max(0, ...stops.map((s) => s.length));
  }

  /** The stop string that ended the text, once one has. */
  get stopped(): string | undefined {
    return this.stoppedBy;
  }

  /** Text held back now because it could begin a stop string. */
  get pending(): string {
    return this.held;
  }

  /**
   * Feeds the next piece of decoded text. After a stop string completed, everything is discarded.
   *
   * When several stop strings complete in the same piece, the one that would have completed first had
   * the text come one character at a time wins (on the same last character: the longer one), so the
   * result never depends on how the tokenizer happened to cut the text.
   */
  push(delta: string): StopPush {
    if (this.stoppedBy !== undefined) return { text: '' };
    const buf = this.held + delta;
    let end = Number.POSITIVE_INFINITY;
    let start = 0;
    let which: string | undefined;
    for (const s of this.stops) {
      // the first occurrence of one string is also its earliest-ending one
      const i = buf.indexOf(s);
      if (i < 0) continue;
      const e = i + s.length;
      if (e < end || (e === end && i < start)) {
        end = e;
        start = i;
        which = s;
      }
    }
    if (which !== undefined) {
      this.stoppedBy = which;
      this.held = '';
      return { text: buf.slice(0, start), stopped: which };
    }
    const hold = this.holdLength(buf);
    this.held = buf.slice(buf.length - hold);
    return { text: buf.slice(0, buf.length - hold) };
  }

  /** At the end of generation: what was held back, since no stop string can complete any more. */
  flush(): string {
    const rest = this.held;
    this.held = '';
    return rest;
  }

  /** Length of the longest tail of `buf` that is a proper prefix of some stop string. */
  private holdLength(buf: string): number {
    for (let k = Math.min(buf.length, this.longest - 1); k > 0; k--) {
      const tail = buf.slice(buf.length - k);
      if (this.stops.some((s) => s.startsWith(tail))) return k;
    }
    return 0;
  }
}
