import { mulberry32 } from '@lab/common';
import {
  badFile,
  type Doc,
  defineTask,
  field,
  isIndex,
  isString,
  isStrings,
  readJsonl,
  SAMPLED_ORDER,
  sampledItems,
} from './read.ts';
import type { TaskSpec } from './types.ts';

/**
 * The MosaicML copies hold `query: "Question: <question>"`, i.e. lm-eval's "Question: {{question}}" already
 * applied; only "\nAnswer:" is missing. Choices are the answer texts, as lm-eval's `choices.text`.
 */
function readDocs(datasets: string, rel: string): Doc[] {
  const { file, rows } = readJsonl(datasets, rel);
  return rows.map(({ line, doc }) => {
    const query = field(doc, 'query', isString, file, line, 'a string');
    if (!query.startsWith('Question: ')) throw badFile(file, line, '"query" must start with "Question: "');
    const choices = field(doc, 'choices', isStrings, file, line, 'a list of strings');
    const gold = field(doc, 'gold', isIndex, file, line, 'a choice index');
    if (gold >= choices.length) throw badFile(file, line, `gold ${gold} out of ${choices.length} choices`);
    return { query: `${query}\nAnswer:`, choices, gold };
  });
}

function arcTask(name: 'arc_easy' | 'arc_challenge', label: string): TaskSpec {
  const rel = `arc/${name}_test.jsonl`;
  return defineTask(
    {
      name,
      description:
        `ARC-${label} test set (MosaicML copy, no question ids), lm-eval prompt "Question: {question}\\nAnswer:" ` +
        'scored on the answer texts; acc, acc_norm, acc_bytes. Few-shot examples are drawn with a seeded RNG from ' +
        'the other questions of the test file (lm-eval draws from train, absent here).',
      defaultFewshot: 0,
      maxFewshot: 25,
      fewshotOrder: SAMPLED_ORDER,
      metrics: ['acc', 'acc_norm', 'acc_bytes'],
    },
    (opts) => sampledItems(name, readDocs(opts.datasets, rel), opts, mulberry32(opts.seed)),
  );
}

export const arcEasy = arcTask('arc_easy', 'Easy');
export const arcChallenge = arcTask('arc_challenge', 'Challenge');
