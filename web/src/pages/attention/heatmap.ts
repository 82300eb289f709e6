// Attention patterns drawn on canvas: one pixel per (query, key) in the small grid (scaled without
// smoothing), cells of a few pixels in the large view. Colour runs from white (0) to deep blue (1) through
// √weight, so the small weights most heads spread around stay visible.

/** The colour of a weight in [0, 1]. */
export function weightColor(w: number): [number, number, number] {
  const t = Math.sqrt(Math.min(1, Math.max(0, w)));
  return [
    Math.round(248 - t * (248 - 29)),
    Math.round(250 - t * (250 - 78)),
    Math.round(252 - t * (252 - 216)),
  ];
}

/** The weights of one head, [T, T], out of a layer's [heads, T, T]. */
export function headWeights(weights: readonly number[], head: number, T: number): number[] {
  return weights.slice(head * T * T, (head + 1) * T * T);
}

/** Draws a [T, T] pattern with `cell` pixels per entry; future keys (above the diagonal) are grey. */
export function drawPattern(canvas: HTMLCanvasElement, w: readonly number[], T: number, cell: number): void {
  canvas.width = T * cell;
  canvas.height = T * cell;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const img = ctx.createImageData(T * cell, T * cell);
  const px = img.data;
  for (let q = 0; q < T; q++)
    for (let k = 0; k < T; k++) {
      const [r, g, b] = k > q ? [226, 232, 240] : weightColor(w[q * T + k]!);
      for (let y = q * cell; y < (q + 1) * cell; y++)
        for (let x = k * cell; x < (k + 1) * cell; x++) {
          const i = 4 * (y * T * cell + x);
          px[i] = r;
          px[i + 1] = g;
          px[i + 2] = b;
          px[i + 3] = 255;
        }
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
