// Seeded PRNG (xoshiro128**) whose whole state is four uint32s, so checkpoints can save and restore it.

export type RngState = [number, number, number, number];

export class Rng {
  private s: Uint32Array;
  private spare: number | undefined;

  constructor(seed: number | RngState) {
    this.s = new Uint32Array(4);
    if (Array.isArray(seed)) this.s.set(seed);
    else {
      // splitmix32 expands one seed into a well-mixed state
      let x = seed >>> 0;
      for (let i = 0; i < 4; i++) {
        x = (x + 0x9e3779b9) >>> 0;
        this.s[i] = mix32(x);
      }
    }
  }

  /**
   * A generator for one stream among many, e.g. (seed, step, row) for dropout masks, so a row's masks
   * follow from those numbers alone: a resumed run and any worker draw the same ones.
   */
  static derive(...parts: readonly number[]): Rng {
    let h = 0x2545f491;
    const s: RngState = [0, 0, 0, 0];
    for (let i = 0; i < 4; i++) {
      for (const p of parts) h = mix32((h ^ (p >>> 0) ^ Math.floor(p / 4294967296)) + 0x9e3779b9);
      s[i] = h = mix32(h + i + 0x9e3779b9);
    }
    if (s.every((x) => x === 0)) s[0] = 1;
    return new Rng(s);
  }

  state(): RngState {
    this.spare = undefined;
    return [this.s[0], this.s[1], this.s[2], this.s[3]];
  }

  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /**
   * Fill `out` with `value` (probability `keep`) or 0: a dropout mask, value = 1/keep. Two 16-bit draws
   * per 32-bit output (keep is exact to 2⁻¹⁶) with the state in locals, ~2 ns per element; calling
   * nextU32() per element is several times slower, and masks run to tens of millions per step.
   */
  fillMask(out: Float32Array, keep: number, value: number): void {
    if (!(keep >= 0 && keep <= 1)) throw new Error(`fillMask: keep must be in [0, 1], got ${keep}`);
    const t = Math.round(keep * 65536);
    // Written as bit patterns (value's or zero's) through an integer view: no int-to-float conversion.
    const bits = new Int32Array(Float32Array.of(value).buffer)[0];
    const w = new Int32Array(out.buffer, out.byteOffset, out.length);
    const st = this.s;
    let s0 = st[0] | 0;
    let s1 = st[1] | 0;
    let s2 = st[2] | 0;
    let s3 = st[3] | 0;
    let x = 0;
    let u = 0;
    const pairs = out.length >>> 1;
    // nextU32(), written out: V8 does not inline a closure here (3× slower).
    for (let i = 0; i < pairs; i++) {
      x = Math.imul(s1, 5);
      const r = Math.imul((x << 7) | (x >>> 25), 9);
      u = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= u;
      s3 = (s3 << 11) | (s3 >>> 21);
      // (h − t) >> 31 is all ones exactly when h < t (both below 2¹⁶), without a branch.
      w[2 * i] = bits & (((r & 0xffff) - t) >> 31);
      w[2 * i + 1] = bits & (((r >>> 16) - t) >> 31);
    }
    st[0] = s0;
    st[1] = s1;
    st[2] = s2;
    st[3] = s3;
    this.spare = undefined;
    if (out.length & 1) w[out.length - 1] = bits & (((this.nextU32() & 0xffff) - t) >> 31);
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    if (this.spare !== undefined) {
      const v = this.spare;
      this.spare = undefined;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

/** splitmix32's finaliser. */
function mix32(x: number): number {
  let z = x >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
