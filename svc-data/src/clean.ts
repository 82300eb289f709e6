// Text normalisation and PII scrubbing: pure functions over one document.
import { isIPv6 } from 'node:net';

export interface NormalizeOptions {
  /** Unicode NFC composition. */
  nfc: boolean;
  /** Remove C0/C1 control characters (keeps tab and newline) and zero-width characters. */
  controlChars: boolean;
  /** Collapse runs of spaces, trim line ends, at most one blank line in a row, trim the document. */
  whitespace: boolean;
  /** Remove HTML tags, scripts, styles and comments; decode entities. */
  stripHtml: boolean;
}

// Control characters except \t and \n; \r is handled by the line-ending rule. Also zero-width and BOM.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u200B-\u200D\u2060\uFEFF]/g;
const ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  ndash: '–',
  mdash: '—',
  hellip: '…',
  copy: '©',
  reg: '®',
  laquo: '«',
  raquo: '»',
  lsquo: '‘',
  rsquo: '’',
  ldquo: '“',
  rdquo: '”',
};
const BLOCK_TAG =
  /<\/?(?:p|div|br|li|ul|ol|h[1-6]|tr|table|section|article|header|footer|blockquote|pre|hr)\b[^>]*>/gi;

/** Strips HTML to its text: drops script/style/comments, turns block tags into line breaks, decodes entities. */
export function stripHtml(text: string): string {
  if (!/[<&]/.test(text)) return text;
  return text
    .replace(/<(script|style|noscript)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(BLOCK_TAG, '\n')
    .replace(/<\/?[A-Za-z][\w:-]*(?:\s[^<>]*)?\/?>/g, '')
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
      if (e[0] === '#') {
        const cp = e[1] === 'x' || e[1] === 'X' ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1));
        return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
      }
      return ENTITIES[e.toLowerCase()] ?? m;
    });
}

/** Normalises one document; returns '' when nothing is left. */
export function normalizeText(text: string, o: NormalizeOptions): string {
  let t = text;
  if (t.includes('\r')) t = t.replace(/\r\n?/g, '\n');
  if (o.stripHtml) t = stripHtml(t);
  if (o.nfc) t = t.normalize('NFC');
  if (o.controlChars) t = t.replace(CONTROL, '');
  if (o.whitespace) {
    t = t
      .replace(/[ \t\u00A0\u2000-\u200A\u202F\u205F\u3000]+/g, ' ')
      .replace(/ *\n */g, '\n')
      .replace(/\n{3,}/g, '\n\n')
      .trim();
  }
  return t;
}

export const PII_KINDS = ['email', 'phone', 'creditCard', 'ipv4', 'ipv6', 'ssn'] as const;
export type PiiKind = (typeof PII_KINDS)[number];

/** Luhn checksum over the digits of a string (spaces and dashes ignored). */
export function luhnValid(s: string): boolean {
  const digits = s.replace(/[\s-]/g, '');
  if (!/^\d{13,19}$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

const TAGS: Record<PiiKind, string> = {
  email: '[EMAIL]',
  phone: '[PHONE]',
  creditCard: '[CREDIT_CARD]',
  ipv4: '[IP]',
  ipv6: '[IP]',
  ssn: '[SSN]',
};

// Order matters: cards and SSNs before phones (their digits would look like phone numbers).
const PATTERNS: [PiiKind, RegExp, ((m: string) => boolean)?][] = [
  ['email', /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g],
  ['creditCard', /(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])/g, luhnValid],
  ['ssn', /(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])/g],
  [
    'ipv4',
    /(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\d.])/g,
  ],
  [
    'ipv6',
    /(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){1,7}(?::|(?::[0-9A-Fa-f]{1,4}){1,7}|[0-9A-Fa-f]{1,4})(?![\w:])|(?<![\w:])::(?:[0-9A-Fa-f]{1,4}:){0,6}[0-9A-Fa-f]{1,4}(?![\w:])/g,
    (m) => isIPv6(m) && (m.match(/[0-9A-Fa-f]{1,4}/g)?.length ?? 0) >= 2,
  ],
  [
    'phone',
    /(?<![\w+]|\d[ .-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])\d{3,4}[ .-]\d{4}(?![\w-]|[ .]\d|\s*[=+*/×])|(?<![\w+])\+\d{1,3}[ .-]?\d{6,12}(?!\w)/g,
    (m) => {
      const n = m.replace(/\D/g, '').length;
      return n >= 9 && n <= 15;
    },
  ],
];

export interface PiiResult {
  text: string;
  counts: Record<PiiKind, number>;
}

/** Replaces PII with a tag per kind (`[EMAIL]`, `[PHONE]`, …) and counts what it replaced. */
export function scrubPii(text: string, kinds: readonly PiiKind[] = PII_KINDS): PiiResult {
  const counts = Object.fromEntries(PII_KINDS.map((k) => [k, 0])) as Record<PiiKind, number>;
  let t = text;
  // Cheap pre-checks keep clean documents fast: every kind needs a digit, '@' or ':'.
  const hasDigit = /\d/.test(t);
  for (const [kind, re, check] of PATTERNS) {
    if (!kinds.includes(kind)) continue;
    if (kind === 'email' ? !t.includes('@') : kind === 'ipv6' ? !t.includes(':') : !hasDigit) continue;
    t = t.replace(re, (m) => {
      if (check && !check(m)) return m;
      counts[kind]++;
      return TAGS[kind];
    });
  }
  return { text: t, counts };
}

/** A short before/after pair around the first difference, for the cleaning report. */
export function excerpt(before: string, after: string, width = 300): { before: string; after: string } {
  if (before.length <= width && after.length <= width) return { before, after };
  let i = 0;
  while (i < before.length && i < after.length && before[i] === after[i]) i++;
  const start = Math.max(0, i - Math.floor(width / 3));
  const cut = (s: string) =>
    (start > 0 ? '…' : '') + s.slice(start, start + width) + (s.length > start + width ? '…' : '');
  return { before: cut(before), after: cut(after) };
}
