// Text on the Probing page's heatmap cells (logit lens, patching, ablation) stays readable: over every
// shade, the text colour chosen has at least the contrast of the other choice, by WCAG's formula.
import { describe, expect, it } from 'vitest';
import { diverging, divergingInk, heat, heatInk } from '../src/pages/probing/api.ts';

/** The page's text colour (web/src/styles.css --text). */
const TEXT: [number, number, number] = [0x1f, 0x24, 0x30];

function hslToRgb(css: string): [number, number, number] {
  const m = /^hsl\(([\d.]+) ([\d.]+)% ([\d.]+)%\)$/.exec(css);
  if (!m) throw new Error(`not an hsl() colour: ${css}`);
  const [h, s, l] = [Number(m[1]), Number(m[2]) / 100, Number(m[3]) / 100];
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => {
    const k = (n + h / 30) % 12;
    return 255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1)));
  };
  return [f(0), f(8), f(4)];
}

function luminance([r, g, b]: [number, number, number]): number {
  const c = (v: number) => {
    const x = v / 255;
    return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * c(r) + 0.7152 * c(g) + 0.0722 * c(b);
}

const contrast = (a: number, b: number) => (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);

describe('text over heatmap cells', () => {
  const cases: [string, (x: number) => string, (x: number) => string | undefined, number[]][] = [
    ['heat', heat, heatInk, Array.from({ length: 101 }, (_, i) => i / 100)],
    ['diverging', diverging, divergingInk, Array.from({ length: 201 }, (_, i) => i / 100 - 1)],
  ];
  for (const [name, colour, ink, xs] of cases)
    it(`${name}: white where it reads better than the page's text, the page's text elsewhere`, () => {
      let white = 0;
      for (const x of xs) {
        const bg = luminance(hslToRgb(colour(x)));
        const onWhite = contrast(bg, 1);
        const onText = contrast(bg, luminance(TEXT));
        const chosen = ink(x) === '#fff' ? onWhite : onText;
        // Within 0.25 of the better one: at the crossing both are about equal.
        expect(chosen, `x = ${x}`).toBeGreaterThanOrEqual(Math.max(onWhite, onText) - 0.25);
        if (ink(x) === '#fff') white++;
      }
      // The darkest cells do switch.
      expect(white).toBeGreaterThan(0);
    });
});
