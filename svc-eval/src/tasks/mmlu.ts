import { join } from 'node:path';
import { badFile, type Doc, defineTask, pyStrip, readCsv, renderContext, toItem } from './read.ts';
import type { McItem, TaskSpec } from './types.ts';

/** The 10 of 57 subjects copied here, in lm-eval's (alphabetical) order. */
export const MMLU_SUBJECTS = [
  'abstract_algebra',
  'anatomy',
  'college_computer_science',
  'computer_security',
  'high_school_mathematics',
  'high_school_us_history',
  'machine_learning',
  'professional_law',
  'us_foreign_policy',
  'world_religions',
] as const;

const LETTERS = ['A', 'B', 'C', 'D'];
const HEADER = 'question,choice0,choice1,choice2,choice3,answer';

/** This copy has a header and 0-based integer answers where the hendrycks CSVs have neither. */
function readDocs(datasets: string, subject: string, split: 'dev' | 'test'): Doc[] {
  const { file, header, rows } = readCsv(datasets, `mmlu/${split}/${subject}_${split}.csv`);
  if (header.join(',') !== HEADER) throw badFile(file, 1, `header must be ${HEADER}`);
  return rows.map(({ line, fields }) => {
    const [question, a, b, c, d, answer] = fields;
    if (!/^[0-3]$/.test(answer)) throw badFile(file, line, `answer must be 0..3, got "${answer}"`);
    // Only the question is stripped: lm-eval's template has question.strip() but inserts choices as they are.
    const query = `${pyStrip(question)}\nA. ${a}\nB. ${b}\nC. ${c}\nD. ${d}\nAnswer:`;
    return { query, choices: LETTERS, gold: Number(answer) };
  });
}

export const mmluDescription = (subject: string): string =>
  `The following are multiple choice questions (with answers) about ${subject.replaceAll('_', ' ')}.\n\n`;

/** Few-shot examples are the first n dev rows, the same for every question (lm-eval's first_n sampler). */
function subjectItems(subject: string, datasets: string, fewshot: number, limit?: number): McItem[] {
  const shots = fewshot > 0 ? readDocs(datasets, subject, 'dev').slice(0, fewshot) : [];
  if (shots.length < fewshot)
    throw badFile(join(datasets, `mmlu/dev/${subject}_dev.csv`), 1, `fewer than ${fewshot} rows`);
  const description = mmluDescription(subject);
  const task = `mmlu_${subject}`;
  return readDocs(datasets, subject, 'test')
    .slice(0, limit)
    .map((doc, i) => toItem(task, i, doc, renderContext(description, shots, doc.query), subject));
}

const common = {
  defaultFewshot: 0,
  maxFewshot: 5,
  fewshotOrder:
    'first_n: the first n dev rows in file order, the same for every question, after the description',
  metrics: ['acc' as const],
};

export const mmluSubjects: TaskSpec[] = MMLU_SUBJECTS.map((subject) =>
  defineTask(
    {
      name: `mmlu_${subject}`,
      description: `MMLU ${subject} test questions, lm-eval default template (letters A-D scored as " A".." D"), few-shot from the first dev rows; acc.`,
      ...common,
    },
    (opts) => subjectItems(subject, opts.datasets, opts.fewshot, opts.limit),
  ),
);

export const mmlu = defineTask(
  {
    name: 'mmlu',
    description:
      `MMLU, the ${MMLU_SUBJECTS.length} of 57 subjects present here (${MMLU_SUBJECTS.join(', ')}); lm-eval default template, ` +
      'few-shot from the first dev rows, limit applied per subject; acc per subject and averaged weighted by size.',
    ...common,
  },
  (opts) => MMLU_SUBJECTS.flatMap((s) => subjectItems(s, opts.datasets, opts.fewshot, opts.limit)),
);
