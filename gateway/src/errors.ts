import { z } from '@hono/zod-openapi';
import { type ErrorCode, fromServiceError, LabError } from '@lab/common';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** Every error the gateway answers has this body. */
export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'INVALID_ARGUMENT' }),
      message: z.string().openapi({ example: 'vocabSize: must be at least 257' }),
      field: z.string().optional().openapi({ example: 'vocabSize' }),
    }),
  })
  .openapi('Error');

export function errorResponse(c: Context, status: number, code: ErrorCode, message: string, field?: string) {
  return c.json(
    { error: field ? { code, message, field } : { code, message } },
    status as ContentfulStatusCode,
  );
}

/** Maps thrown errors (gRPC statuses, LabErrors, Hono's own) to the JSON error body. */
export function handleError(err: Error, c: Context) {
  if (err instanceof HTTPException) {
    // Hono's JSON validator throws this for a body that does not parse.
    const malformed = /malformed json/i.test(err.message);
    return errorResponse(
      c,
      err.status,
      err.status === 400 ? 'INVALID_ARGUMENT' : 'INTERNAL',
      malformed ? `request body is not valid JSON (${err.message})` : err.message,
      malformed ? 'body' : undefined,
    );
  }
  const lab = err instanceof LabError ? err : fromServiceError(err);
  if (lab.code === 'INTERNAL') console.error('[gateway] error:', err);
  return errorResponse(c, lab.httpStatus, lab.code, lab.message, lab.field);
}

/** One zod issue, with the fields of the codes the sentences use (zod 4 shapes). */
interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  origin?: string;
  maximum?: number | bigint;
  minimum?: number | bigint;
  inclusive?: boolean;
  expected?: string;
  values?: unknown[];
  keys?: string[];
  format?: string;
  pattern?: string;
  divisor?: number | bigint;
}

/** Field names whose words are not their camelCase split ("iters" is what the pages call steps). */
const WORDS: Record<string, string> = {
  iters: 'The number of steps',
  nLayer: 'Layers',
  nHead: 'Heads',
  nKvHead: 'Key/value heads',
  nEmbd: 'Width',
  ffnHidden: 'FFN width',
  topK: 'Top-k',
  topP: 'Top-p',
  minP: 'Min-p',
  fewshot: 'The number of few-shot examples (fewshot)',
  id: 'The id',
  body: 'The request body',
};

const words = (key: string) => {
  const w = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .toLowerCase();
  return w.charAt(0).toUpperCase() + w.slice(1);
};

/** Grouped from 10,000 up, as svc-train's messages write numbers: 1024, 10,000,000. */
const num = (v: number | bigint) => (Math.abs(Number(v)) >= 10_000 ? v.toLocaleString('en') : String(v));

/** "config.batchSize" → "Batch size"; an item of a list says which: "Content in messages[0]". */
export function fieldLabel(path: readonly PropertyKey[]): string {
  const last = [...path].reverse().find((p) => typeof p === 'string') as string | undefined;
  if (last === undefined) return 'The request body';
  const label = WORDS[last] ?? words(last);
  const at = path.indexOf(last);
  const item = path.slice(0, at).some((p) => typeof p === 'number');
  if (!item) return label;
  const where = path
    .slice(0, at)
    .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
    .join('')
    .replace(/^\./, '');
  return `${label} in ${where}`;
}

const valueAt = (data: unknown, path: readonly PropertyKey[]): unknown =>
  path.reduce<unknown>(
    (v, k) => (v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined),
    data,
  );

const kindOf = (v: unknown) =>
  v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;

const quoteAll = (vs: readonly unknown[]) => {
  const q = vs.map((v) => (typeof v === 'string' ? `"${v}"` : String(v)));
  return q.length > 1 ? `${q.slice(0, -1).join(', ')} or ${q.at(-1)}` : (q[0] ?? '');
};

/** What is wrong with the field, after its name: "must be at most 1024". */
function predicate(issue: Issue, data: unknown): string {
  const many = issue.origin === 'array' || issue.origin === 'set';
  switch (issue.code) {
    case 'too_big': {
      const m = num(issue.maximum ?? 0);
      if (issue.origin === 'string') return `must be at most ${m} characters long`;
      if (many) return `must have at most ${m} items`;
      return issue.inclusive === false ? `must be less than ${m}` : `must be at most ${m}`;
    }
    case 'too_small': {
      const m = num(issue.minimum ?? 0);
      if (issue.origin === 'string')
        return Number(issue.minimum) === 1 ? 'must not be empty' : `must be at least ${m} characters long`;
      if (many) return `must have at least ${m} item${Number(issue.minimum) === 1 ? '' : 's'}`;
      return issue.inclusive === false ? `must be more than ${m}` : `must be at least ${m}`;
    }
    case 'invalid_type': {
      const v = valueAt(data, issue.path);
      if (v === undefined) return 'is required';
      if (issue.expected === 'int') return `must be a whole number (got ${String(v)})`;
      const e = issue.expected ?? 'value';
      return `must be ${/^[aeiou]/.test(e) ? 'an' : 'a'} ${e} (got ${kindOf(v)})`;
    }
    case 'invalid_value':
      return `must be ${(issue.values?.length ?? 0) > 1 ? 'one of ' : ''}${quoteAll(issue.values ?? [])}`;
    case 'invalid_format':
      return issue.format === 'regex'
        ? `is not in the expected form (${issue.pattern ?? 'a pattern'})`
        : `must be a valid ${issue.format ?? 'value'}`;
    case 'not_multiple_of':
      return `must be a multiple of ${num(issue.divisor ?? 1)}`;
    default:
      return '';
  }
}

const sentence = (s: string) => {
  const t = s.trim();
  const c = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(c) ? c : `${c}.`;
};

/**
 * A validation issue as a sentence that names the field in words ("Batch size must be at most 1024."), and
 * the field's path for the page to highlight ("config.batchSize"). Pages show the message as it is, so it is
 * written for a person rather than as zod's "Too big: expected number to be <=1024".
 */
export function describeIssue(issue: Issue, data?: unknown): { message: string; field: string } {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys' && issue.keys?.length) {
    const where = issue.path.length ? ` of ${fieldLabel(issue.path).toLowerCase()}` : '';
    return {
      message: sentence(
        `${quoteAll(issue.keys)} ${issue.keys.length > 1 ? 'are not fields' : 'is not a field'}${where}`,
      ),
      field: path ? `${path}.${issue.keys[0]}` : issue.keys[0]!,
    };
  }
  const p = predicate(issue, data);
  // Custom checks (refine) carry their route's own words, which are left as written.
  const message = p ? sentence(`${fieldLabel(issue.path)} ${p}`) : issue.message;
  return { message, field: path || 'body' };
}

/** zod-openapi hook: a request that fails its schema gets 400 naming the first bad field in words. */
export function validationHook(
  result: { success: true } | { success: false; data?: unknown; error: { issues: Issue[] } },
  c: Context,
) {
  if (result.success) return;
  const { message, field } = describeIssue(result.error.issues[0]!, result.data);
  return errorResponse(c, 400, 'INVALID_ARGUMENT', message, field);
}
