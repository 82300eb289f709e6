import { mulberry32 } from '@lab/common';
import {
  badFile,
  type Doc,
  defineTask,
  field,
  isIndex,
  isString,
  isStrings,
  pyStrip,
  readJsonl,
  SAMPLED_ORDER,
  sampledItems,
} from './read.ts';

const FILE = 'hellaswag/hellaswag_val_subset1000.jsonl';

/** lm-eval's cleanup of WikiHow markup: "[title]" becomes a sentence break, other "[...]" tags vanish. */
export function hellaswagPreprocess(text: string): string {
  return pyStrip(text)
    .replaceAll(' [title]', '. ')
    .replace(/\[[^\n]*?\]/g, '') // Python's "." stops only at \n, JS's also at \r and U+2028/9
    .replaceAll('  ', ' ');
}

/** Python's str.capitalize(): first character upper, the REST LOWERED ("the Man" -> "The man"). */
function capitalize(s: string): string {
  const [first = '', ...rest] = [...s];
  return first.toUpperCase() + rest.join('').toLowerCase();
}

export function hellaswagQuery(d: { activity_label: string; ctx_a: string; ctx_b: string }): string {
  return hellaswagPreprocess(`${d.activity_label}: ${d.ctx_a} ${capitalize(d.ctx_b)}`);
}

function readDocs(datasets: string): Doc[] {
  const { file, rows } = readJsonl(datasets, FILE);
  return rows.map(({ line, doc }) => {
    const get = <T>(k: string, ok: (v: unknown) => v is T, want: string) =>
      field(doc, k, ok, file, line, want);
    const endings = get('endings', isStrings, 'a list of strings');
    const gold = get('label', isIndex, 'a choice index');
    if (gold >= endings.length) throw badFile(file, line, `label ${gold} out of ${endings.length} endings`);
    const query = hellaswagQuery({
      activity_label: get('activity_label', isString, 'a string'),
      ctx_a: get('ctx_a', isString, 'a string'),
      ctx_b: get('ctx_b', isString, 'a string'),
    });
    return { query, choices: endings.map(hellaswagPreprocess), gold };
  });
}

export const hellaswag = defineTask(
  {
    name: 'hellaswag',
    description:
      'HellaSwag sentence completion on a 1,000-record validation subset (not the full 10,042), lm-eval prompt ' +
      '"{activity_label}: {ctx_a} {ctx_b.capitalize()}" with its [title]/[header] cleanup; acc, acc_norm, acc_bytes. ' +
      'Few-shot examples are drawn with a seeded RNG from the other records of this file (lm-eval draws from train, absent here).',
    defaultFewshot: 0,
    maxFewshot: 25,
    fewshotOrder: SAMPLED_ORDER,
    metrics: ['acc', 'acc_norm', 'acc_bytes'],
  },
  (opts) => sampledItems('hellaswag', readDocs(opts.datasets), opts, mulberry32(opts.seed)),
);
