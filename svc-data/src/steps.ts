// Transform steps: parameters (zod, every default filled in), and the step functions over a version's
// documents, each with a report of what it changed or removed and why.
import { LabError, mulberry32 } from '@lab/common';
import { z } from 'zod';
import { excerpt, normalizeText, PII_KINDS, type PiiKind, scrubPii } from './clean.ts';
import { type DedupResult, exactDedup, nearDedup } from './dedup.ts';
import { type DocumentKind, fnv1a, type QualityOptions, qualityCheck, qualityDefaults } from './quality.ts';
import type { Doc, StepReportRecord } from './registry.ts';

const fraction = z.number().min(0).max(1);
const schemas = {
  clean: z.strictObject({
    nfc: z.boolean().default(true),
    controlChars: z.boolean().default(true),
    whitespace: z.boolean().default(true),
    stripHtml: z.boolean().default(false),
    /** Documents shorter than this after cleaning are removed (empty ones always are). */
    minChars: z.number().int().min(1).default(1),
  }),
  pii: z.strictObject({
    kinds: z
      .array(z.enum(PII_KINDS))
      .min(1)
      .default([...PII_KINDS]),
  }),
  // No defaults here: they depend on what a document is (qualityDefaults), filled in by parseSteps.
  quality: z.strictObject({
    minWords: z.number().int().min(0).optional(),
    maxWords: z.number().int().min(1).optional(),
    minMeanWordLength: z.number().min(0).optional(),
    maxMeanWordLength: z.number().min(0).optional(),
    maxSymbolWordRatio: z.number().min(0).optional(),
    maxBulletLineFraction: fraction.optional(),
    maxEllipsisLineFraction: fraction.optional(),
    minAlphaWordFraction: fraction.optional(),
    minStopWords: z.number().int().min(0).max(8).optional(),
    maxDuplicateLineFraction: fraction.optional(),
    maxDuplicateLineCharFraction: fraction.optional(),
    maxDuplicateParagraphFraction: fraction.optional(),
    topNgramCharFraction: z.record(z.string().regex(/^([1-9]|10)$/, 'n must be 1-10'), fraction).optional(),
    duplicateNgramCharFraction: z
      .record(z.string().regex(/^([1-9]|1\d|20)$/, 'n must be 1-20'), fraction)
      .optional(),
  }),
  dedup_exact: z.strictObject({
    /** Compare lower-cased text with whitespace collapsed. */
    normalize: z.boolean().default(true),
  }),
  dedup_near: z.strictObject({
    threshold: z.number().gt(0).max(1).default(0.8),
    numPerm: z.number().int().min(8).max(1024).default(128),
    ngram: z.number().int().min(1).max(20).default(5),
    seed: z.number().int().min(0).default(1),
  }),
  split: z
    .strictObject({
      train: fraction.default(0.9),
      val: fraction.default(0.05),
      test: fraction.default(0.05),
      seed: z.number().int().min(0).default(0),
    })
    .refine((p) => Math.abs(p.train + p.val + p.test - 1) < 1e-9, {
      message: 'train + val + test must add up to 1',
      path: ['train'],
    }),
} as const;

export type StepKind = keyof typeof schemas;
export const STEP_KINDS = Object.keys(schemas) as StepKind[];

export interface ParsedStep {
  kind: StepKind;
  params: Record<string, unknown>;
}

/**
 * Validates steps and fills in every default (the quality thresholds for the dataset's kind of document);
 * errors name the field as `steps[i].param`.
 */
export function parseSteps(
  steps: readonly { kind: string; paramsJson: string }[],
  documents: DocumentKind = 'record',
): ParsedStep[] {
  if (!steps.length) throw new LabError('INVALID_ARGUMENT', 'steps: give at least one step', 'steps');
  if (steps.length > 32) throw new LabError('INVALID_ARGUMENT', 'steps: at most 32 steps', 'steps');
  return steps.map((s, i) => {
    const schema = schemas[s.kind as StepKind];
    if (!schema) {
      throw new LabError(
        'INVALID_ARGUMENT',
        `steps[${i}].kind: unknown step "${s.kind}" (known: ${STEP_KINDS.join(', ')})`,
        `steps[${i}].kind`,
      );
    }
    let raw: unknown = {};
    if (s.paramsJson.trim()) {
      try {
        raw = JSON.parse(s.paramsJson);
      } catch {
        throw new LabError('INVALID_ARGUMENT', `steps[${i}]: parameters are not valid JSON`, `steps[${i}]`);
      }
    }
    const r = (schema as z.ZodType).safeParse(raw);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      const key = issue.path.map(String).join('.');
      const field = key ? `steps[${i}].${key}` : `steps[${i}]`;
      throw new LabError('INVALID_ARGUMENT', `${field}: ${issue.message}`, field);
    }
    const params = r.data as Record<string, unknown>;
    if (s.kind !== 'quality') return { kind: s.kind as StepKind, params };
    const given = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined));
    return { kind: 'quality', params: { ...qualityDefaults(documents).options, ...given } };
  });
}

/** Every step kind with every parameter at its default for this kind of document. */
export function stepDefaults(documents: DocumentKind): ParsedStep[] {
  return parseSteps(
    STEP_KINDS.map((kind) => ({ kind, paramsJson: '' })),
    documents,
  );
}

/** A step removing more than this fraction of its documents or characters is warned about. */
export const WARN_REMOVED_FRACTION = 0.25;

export type Progress = (done: number, total: number) => void;

const MAX_EXAMPLES = 3;

/** What a removal was measured by (see StepExample in data.proto). */
interface Measured {
  keptIndex?: number;
  similarity?: number;
  measure?: string;
  value?: number;
  limit?: number;
  limitKind?: 'min' | 'max';
}

const percent = (part: number, whole: number) => `${Math.round((100 * part) / whole)} %`;

class Reporter {
  readonly report: StepReportRecord;
  private readonly perReason = new Map<string, number>();
  private readonly t0 = performance.now();

  constructor(step: ParsedStep, docs: readonly Doc[]) {
    let characters = 0;
    for (const d of docs) characters += d.text.length;
    this.report = {
      kind: step.kind,
      paramsJson: JSON.stringify(step.params),
      documentsIn: docs.length,
      documentsOut: 0,
      charactersIn: characters,
      charactersOut: 0,
      removed: {},
      counts: {},
      examples: [],
      clusters: 0,
      durationMs: 0,
      warnings: [],
    };
  }

  count(name: string, by = 1): void {
    this.report.counts[name] = (this.report.counts[name] ?? 0) + by;
  }

  removed(reason: string): void {
    this.report.removed[reason] = (this.report.removed[reason] ?? 0) + 1;
  }

  example(reason: string, index: number, before: string, after: string, m: Measured = {}): void {
    const n = this.perReason.get(reason) ?? 0;
    if (n >= MAX_EXAMPLES) return;
    this.perReason.set(reason, n + 1);
    const e = excerpt(before, after);
    this.report.examples.push({
      reason,
      index,
      keptIndex: m.keptIndex ?? -1,
      similarity: m.similarity ?? 0,
      measure: m.measure ?? '',
      value: m.value ?? 0,
      limit: m.limit ?? 0,
      limitKind: m.limitKind ?? '',
      ...e,
    });
  }

  finish(docs: Doc[]): { docs: Doc[]; report: StepReportRecord } {
    const r = this.report;
    r.documentsOut = docs.length;
    for (const d of docs) r.charactersOut += d.text.length;
    r.durationMs = performance.now() - this.t0;
    const lostDocs = r.documentsIn - r.documentsOut;
    const lostChars = r.charactersIn - r.charactersOut;
    const top = Object.entries(r.removed).sort((a, b) => b[1] - a[1])[0];
    const why = top ? `, most by ${top[0]} (${top[1]})` : '';
    if (r.documentsIn && lostDocs / r.documentsIn > WARN_REMOVED_FRACTION)
      r.warnings.push(
        `${r.kind} removes ${percent(lostDocs, r.documentsIn)} of the documents (${lostDocs} of ${r.documentsIn})${why}: check that its thresholds fit these documents`,
      );
    if (r.charactersIn && lostChars / r.charactersIn > WARN_REMOVED_FRACTION)
      r.warnings.push(
        `${r.kind} removes ${percent(lostChars, r.charactersIn)} of the characters (${lostChars} of ${r.charactersIn})`,
      );
    return { docs, report: r };
  }
}

const every = (i: number, n: number, progress?: Progress) => {
  if (progress && (i % 2000 === 0 || i === n)) progress(i, n);
};

function applyDedup(docs: Doc[], r: DedupResult, rep: Reporter, reason: string, threshold?: number): Doc[] {
  rep.report.clusters = r.clusters;
  for (const d of r.duplicates) {
    rep.removed(reason);
    rep.example(reason, d.index, docs[d.index]!.text, '', {
      keptIndex: d.keptIndex,
      ...(threshold === undefined
        ? {}
        : {
            similarity: d.similarity,
            measure: 'Jaccard similarity of word shingles',
            value: d.similarity,
            limit: threshold,
            limitKind: 'max' as const,
          }),
    });
  }
  // The kept document of each example is shown in `after` for comparison.
  for (const e of rep.report.examples) e.after = excerpt(docs[e.keptIndex]!.text, '').before;
  return docs.filter((_, i) => r.keep[i]);
}

/** The split (train/val/test) of a document: a hash of its text and the seed, so it is stable and
 * identical documents always land in the same split. */
export function splitOf(text: string, p: { train: number; val: number; seed: number }): string {
  const u = mulberry32(fnv1a(text) ^ Math.imul(p.seed + 1, 0x9e3779b1))();
  return u < p.train ? 'train' : u < p.train + p.val ? 'val' : 'test';
}

/** Runs one step over documents. */
export function runStep(
  step: ParsedStep,
  docs: Doc[],
  progress?: Progress,
): { docs: Doc[]; report: StepReportRecord } {
  const rep = new Reporter(step, docs);
  const p = step.params as never;
  const n = docs.length;
  switch (step.kind) {
    case 'clean': {
      const o = p as z.infer<(typeof schemas)['clean']>;
      const out: Doc[] = [];
      docs.forEach((d, i) => {
        const t = normalizeText(d.text, o);
        every(i, n, progress);
        if (t.length < o.minChars) {
          const reason = t.length === 0 ? 'empty' : 'min_chars';
          rep.removed(reason);
          rep.example(reason, i, d.text, '', {
            measure: 'characters after cleaning',
            value: t.length,
            limit: o.minChars,
            limitKind: 'min',
          });
          return;
        }
        if (t !== d.text) {
          rep.count('documents_changed');
          rep.count('characters_removed', Math.max(0, d.text.length - t.length));
          rep.example('normalized', i, d.text, t);
        }
        out.push(t === d.text ? d : { ...d, text: t });
      });
      return rep.finish(out);
    }
    case 'pii': {
      const o = p as { kinds: PiiKind[] };
      for (const k of o.kinds) rep.count(k, 0);
      const out = docs.map((d, i) => {
        every(i, n, progress);
        const r = scrubPii(d.text, o.kinds);
        if (r.text === d.text) return d;
        rep.count('documents_changed');
        for (const k of PII_KINDS) {
          if (!r.counts[k]) continue;
          rep.count(k, r.counts[k]);
          rep.example(k, i, d.text, r.text);
        }
        return { ...d, text: r.text };
      });
      return rep.finish(out);
    }
    case 'quality': {
      const o = p as QualityOptions;
      const out: Doc[] = [];
      docs.forEach((d, i) => {
        every(i, n, progress);
        const fail = qualityCheck(d.text, o);
        if (!fail) {
          out.push(d);
          return;
        }
        rep.removed(fail.rule);
        rep.example(fail.rule, i, d.text, '', { ...fail, value: Math.round(fail.value * 1000) / 1000 });
      });
      return rep.finish(out);
    }
    case 'dedup_exact': {
      const r = exactDedup(
        docs.map((d) => d.text),
        (p as { normalize: boolean }).normalize,
      );
      progress?.(n, n);
      return rep.finish(applyDedup(docs, r, rep, 'exact_duplicate'));
    }
    case 'dedup_near': {
      const o = p as { threshold: number; numPerm: number; ngram: number; seed: number };
      const r = nearDedup(
        docs.map((d) => d.text),
        o,
        progress,
      );
      return rep.finish(applyDedup(docs, r, rep, 'near_duplicate', o.threshold));
    }
    case 'split': {
      const o = p as { train: number; val: number; test: number; seed: number };
      const out = docs.map((d, i) => {
        every(i, n, progress);
        const split = splitOf(d.text, o);
        rep.count(split);
        return { ...d, split };
      });
      return rep.finish(out);
    }
  }
}
