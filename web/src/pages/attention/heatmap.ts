// Attention patterns drawn on canvas: one pixel per (query, key) in the small grid (scaled without
// smoothing), cells of a few pixels in the large view. Colour runs from white (0) to deep blue (1) through
// √weight, so the small weights most heads spread around stay visible.

/** √weight clamped to [0, 1]: how far a weight's colour is from white towards blue. */
function level(w: number): number {
  return Math.sqrt(Math.min(1, Math.max(0, w)));
}

/** One channel at `level` t between `from` (white end) and `to` (blue end). */
function shade(t: number, from: number, to: number): number {
  return Math.round(from - t * (from - to));
}

/** The colour of a weight in [0, 1]. */
export function weightColor(w: number): [number, number, number] {
  const t = level(w);
  return [shade(t, 248, 29), shade(t, 250, 78), shade(t, 252, 216)];
}

/** The weights of one head, [T, T], out of a layer's [heads, T, T]. */
export function headWeights(weights: Float32Array, head: number, T: number): Float32Array {
  return weights.subarray(head * T * T, (head + 1) * T * T);
}

/**
 * Draws a [T, T] pattern with `cell` pixels per entry; future keys (above the diagonal) are grey. Colours
 * are written straight into the pixels, and a cell's rows after its first are copies of it: the grid's 144
 * heads of 128 tokens are 2.4 M entries, where a colour array per entry cost most of the drawing time.
 */
export function drawPattern(canvas: HTMLCanvasElement, w: ArrayLike<number>, T: number, cell: number): void {
  const size = T * cell;
  canvas.width = size;
  canvas.height = size;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const img = ctx.createImageData(size, size);
  const px = img.data;
  const stride = 4 * size;
  for (let q = 0; q < T; q++) {
    const top = q * cell * stride;
    for (let k = 0; k < T; k++) {
      let r = 226;
      let g = 232;
      let b = 240;
      if (k <= q) {
        const t = level(w[q * T + k]!);
        r = shade(t, 248, 29);
        g = shade(t, 250, 78);
        b = shade(t, 252, 216);
      }
      for (let i = top + 4 * k * cell, end = i + 4 * cell; i < end; i += 4) {
        px[i] = r;
        px[i + 1] = g;
        px[i + 2] = b;
        px[i + 3] = 255;
      }
    }
    for (let y = 1; y < cell; y++) px.copyWithin(top + y * stride, top, top + stride);
  }
  ctx.putImageData(img, 0, 0);
}

/** The (query, key) under a point of a canvas drawn with `cell` pixels per entry, if any. */
export function cellAt(x: number, y: number, T: number, cell: number): { q: number; k: number } | undefined {
  const q = Math.floor(y / cell);
  const k = Math.floor(x / cell);
  return q >= 0 && q < T && k >= 0 && k < T ? { q, k } : undefined;
}

/** Pixels per entry of the large view: about 480 px across, each entry 6 to 28 px. */
export function largeCell(T: number): number {
  return Math.max(6, Math.min(28, Math.floor(480 / T)));
}
