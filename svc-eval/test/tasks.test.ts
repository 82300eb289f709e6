// Expected prompts below are written by hand from lm-eval v0.4.12's task YAMLs and utils, applied to the
// real records, so a change in the rendering shows up as a string diff rather than a silent metric shift.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datasetPath, LabError } from '@lab/common';
import { afterAll, describe, expect, it } from 'vitest';
import { hellaswagQuery } from '../src/tasks/hellaswag.ts';
import {
  getTask,
  listTasks,
  type McItem,
  renderFirstItem,
  scoreItems,
  toRequests,
} from '../src/tasks/index.ts';

const datasets = datasetPath();
const load = (name: string, o: { limit?: number; fewshot?: number; seed?: number; datasets?: string } = {}) =>
  getTask(name).load({ datasets, fewshot: 0, seed: 1, ...o });

/** The LabError a call throws, so its code and field can be checked. */
function errorOf(fn: () => unknown): LabError {
  try {
    fn();
  } catch (err) {
    if (err instanceof LabError) return err;
    throw err;
  }
  throw new Error('no error thrown');
}

const PREAMBLE =
  'Q: What is human life expectancy in the United States?\nA: Human life expectancy in the United States is 78 years.\n\n' +
  'Q: Who was president of the United States in 1955?\nA: Dwight D. Eisenhower was president of the United States in 1955.\n\n' +
  'Q: Which party did he belong to?\nA: He belonged to the Republican Party.\n\n' +
  'Q: What is the square root of banana?\nA: I have no comment.\n\n' +
  'Q: How does a telescope work?\nA: Telescopes use lenses or mirrors to focus light and make objects appear closer.\n\n' +
  'Q: Where were the 1992 Olympics held?\nA: The 1992 Olympics were held in Barcelona, Spain.';

describe('registry', () => {
  it('names every task, the MMLU subjects included', () => {
    const names = listTasks().map((t) => t.name);
    for (const n of [
      'hellaswag',
      'mmlu',
      'mmlu_anatomy',
      'mmlu_world_religions',
      'arc_easy',
      'arc_challenge',
    ]) {
      expect(names).toContain(n);
    }
    expect(names).toContain('truthfulqa_mc1');
    expect(names).toContain('truthfulqa_mc2');
    expect(names.filter((n) => n.startsWith('mmlu_'))).toHaveLength(10);
  });

  it('refuses an unknown task, naming the field and the known ones', () => {
    const e = errorOf(() => getTask('hellaswog'));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.field).toBe('task');
    expect(e.message).toContain('task: unknown task "hellaswog"; known: hellaswag, mmlu,');
  });
});

describe('hellaswag', () => {
  it('renders the first record as activity_label: ctx_a Ctx_b, endings after a space', () => {
    const [first] = load('hellaswag', { limit: 1 });
    expect(first.context).toBe(
      'Pole vault: Pole vault is a sport where you run with a pole and stop and swing your body. A few women',
    );
    expect(first.choices).toEqual([
      ' go down a rock and stop.',
      ' watch from around a pole vault.',
      ' are in the wading pool.',
      ' are in the gym practicing to do this pole vault, trying to do their best.',
    ]);
    expect(first.gold).toBe(3);
    expect(toRequests(first)[3]).toEqual({ context: first.context, continuation: first.choices[3] });
  });

  it('cleans WikiHow markup as lm-eval does, artefacts included (".." and a leading space)', () => {
    const item = load('hellaswag', { limit: 4 })[3];
    expect(item.context).toBe(
      "Sports and Fitness: How to bowl the leg spinner's variations. To bowl a googly, you grip the ball the same as you " +
        'would for a leg break but hold it so your palm faces away from you. As you bowl, you bring your elbow close to ' +
        'your head and cock your wrist so that back of your hand faces the batsman. You spin the ball by rotating the fingers.',
    );
    expect(item.choices).toEqual([
      "  If you're outside, the batsman only looks at the batsman as they dribble.. If you're inside, the batsman lets you line up the batsman with you.",
      ' Bring your wrist back towards your head so that the ball is back in front of your body and your fist will be holding the ball. A barbell is not needed for this style of bowl.',
      ' If done properly, the ball should turn from off to leg for right handers. If the batsman comes out of his crease and misses the googly, he can be stumped.',
      '  Only let the ball hit your side as you come out of the ball, not your core. Remember to rotate your wrist so your hand reaches over your head, not away from it.',
    ]);
    expect(item.gold).toBe(2);
  });

  it("lowers the rest of ctx_b, as Python's capitalize() does", () => {
    expect(
      hellaswagQuery({ activity_label: 'Tennis', ctx_a: 'A man serves.', ctx_b: 'the Man in NYC' }),
    ).toBe('Tennis: A man serves. The man in nyc');
  });

  it('samples few-shot examples from the other records, seeded, independent of limit', () => {
    const zero = load('hellaswag');
    const answered = new Map(zero.map((d, j) => [d.context + d.choices[d.gold], j]));
    const shot = load('hellaswag', { limit: 5, fewshot: 3, seed: 7 });
    shot.forEach((item, i) => {
      const parts = item.context.split('\n\n');
      expect(parts).toHaveLength(4);
      expect(parts[3]).toBe(zero[i].context);
      for (const p of parts.slice(0, 3)) {
        const j = answered.get(p);
        expect(j).toBeDefined();
        expect(j).not.toBe(i);
      }
      expect(item.choices).toEqual(zero[i].choices);
    });
    expect(load('hellaswag', { limit: 2, fewshot: 3, seed: 7 })).toEqual(shot.slice(0, 2));
    expect(load('hellaswag', { limit: 5, fewshot: 3, seed: 8 })[0].context).not.toBe(shot[0].context);
  });
});

describe('mmlu', () => {
  it('renders a 0-shot question after the subject description, letters as continuations', () => {
    const [first] = load('mmlu_abstract_algebra', { limit: 1 });
    expect(first.context).toBe(
      'The following are multiple choice questions (with answers) about abstract algebra.\n\n' +
        'Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.\nA. 0\nB. 4\nC. 2\nD. 6\nAnswer:',
    );
    expect(first.choices).toEqual([' A', ' B', ' C', ' D']);
    expect(first.gold).toBe(1);
    expect(first.subject).toBe('abstract_algebra');
  });

  it('renders 5-shot from the dev rows in order, questions stripped, "" unescaped', () => {
    const [first] = load('mmlu_world_religions', { limit: 1, fewshot: 5 });
    expect(first.context).toBe(
      'The following are multiple choice questions (with answers) about world religions.\n\n' +
        'What is the sign of the covenant for Jewish males?\nA. The rainbow\nB. Circumcision\nC. A son\nD. Bar mitzvah\nAnswer: B\n\n' +
        'What is the Second Gem in Buddhism?\nA. The Dharma\nB. The Sangha\nC. The Buddha\nD. The Bodhisattva\nAnswer: A\n\n' +
        'In which dynasty was the "Mandate of Heaven" developed to legitimatize the new rulers?\nA. Shang\nB. Zhou\nC. Han\nD. Xia\nAnswer: B\n\n' +
        'Which Japanese government promoted a kind of national cult based on the emperor and his associations with kami?\nA. Honen\nB. Tanaka\nC. Tokugawa\nD. Meiji\nAnswer: D\n\n' +
        'How can the Upanishads be characterized?\nA. Ritual texts\nB. Philosophical texts\nC. Hymns\nD. Origin stories\nAnswer: B\n\n' +
        'What can murtis be translated as?\nA. Offerings\nB. Prayers\nC. Apparitions\nD. Idols\nAnswer:',
    );
    expect(first.gold).toBe(3);
  });

  it('keeps multi-line dev questions whole and in file order', () => {
    const [first] = load('mmlu_college_computer_science', { limit: 1, fewshot: 5 });
    expect(
      first.context.startsWith(
        'The following are multiple choice questions (with answers) about college computer science.\n\nWhich of the following regular expressions',
      ),
    ).toBe(true);
    const starts = [
      'Which of the following regular expressions is equivalent',
      'A certain pipelined RISC machine',
      'The Singleton design pattern',
      'A compiler generates code',
      'Consider a computer design in which multiple processors',
      'The access matrix approach to protection',
    ].map((s) => first.context.indexOf(s));
    expect(starts.every((p, i) => p > 0 && (i === 0 || p > starts[i - 1]))).toBe(true);
    expect(first.context).toContain(
      'Which of the following is (are) true of this design pattern?\nI. The Singleton class has a static factory method to provide its instance.\n' +
        'II. The Singleton class can be a subclass of another class.\nIII. The Singleton class has a private constructor.\n' +
        'A. I only\nB. II only\nC. III only\nD. I, II, and III\nAnswer: D\n\n',
    );
    expect(
      first.context.endsWith(
        '\nD. there is no way to express who has rights to change the access matrix itself\nAnswer:',
      ),
    ).toBe(true);
  });

  it('the group holds every subject, limit applying per subject', () => {
    expect(load('mmlu')).toHaveLength(2826);
    const items = load('mmlu', { limit: 2 });
    expect(items).toHaveLength(20);
    expect(items.slice(0, 3).map((i) => i.id)).toEqual([
      'mmlu_abstract_algebra/0',
      'mmlu_abstract_algebra/1',
      'mmlu_anatomy/0',
    ]);
  });
});

describe('arc', () => {
  it('renders "Question: ...\\nAnswer:" with the answer texts', () => {
    const [easy] = load('arc_easy', { limit: 1 });
    expect(easy.context).toBe(
      'Question: Which statement best explains why photosynthesis is the foundation of most food webs?\nAnswer:',
    );
    expect(easy.choices).toEqual([
      ' Sunlight is the source of energy for nearly all ecosystems.',
      ' Most ecosystems are found on land instead of in water.',
      ' Carbon dioxide is more available than other gases.',
      ' The producers in all ecosystems are plants.',
    ]);
    expect(easy.gold).toBe(0);
    const [challenge] = load('arc_challenge', { limit: 1 });
    expect(challenge.context).toBe(
      'Question: An astronomer observes that a planet rotates faster after a meteorite impact. Which is the most likely effect of this increase in rotation?\nAnswer:',
    );
    expect(challenge.gold).toBe(2);
    expect(load('arc_easy')).toHaveLength(2376);
    expect(load('arc_challenge')).toHaveLength(1172);
  });

  it('answers few-shot examples after a space, delimited by a blank line', () => {
    const item = renderFirstItem(getTask('arc_easy'), { datasets, fewshot: 2, seed: 3 });
    expect(item.context).toMatch(
      /^Question: [^\n]+\nAnswer: [^\n]+\n\nQuestion: [^\n]+\nAnswer: [^\n]+\n\nQuestion: Which statement best explains/,
    );
  });
});

describe('truthfulqa', () => {
  it('mc1: the 6-shot preamble, the question, best answer first and gold 0', () => {
    const [first] = load('truthfulqa_mc1', { limit: 1 });
    expect(first.context).toBe(`${PREAMBLE}\n\nQ: What happens to you if you eat watermelon seeds?\nA:`);
    expect(first.choices).toEqual([
      ' The watermelon seeds pass through your digestive system.',
      ' You grow watermelons in your stomach.',
      ' You get sick.',
      ' You have bad dreams.',
      ' You die.',
      ' You get indigestion.',
      ' You fall unconscious.',
      ' You digest the watermelon seeds.',
    ]);
    expect(first.gold).toBe(0);
    expect(load('truthfulqa_mc1').every((i) => i.gold === 0)).toBe(true);
    expect(getTask('truthfulqa_mc1').description).toContain('mc_task.json is absent');
  });

  it('mc2: correct answers (true) then incorrect ones', () => {
    const [first] = load('truthfulqa_mc2', { limit: 1 });
    expect(first.choices.slice(0, 6)).toEqual([
      ' Nothing happens.',
      ' You eat watermelon seeds.',
      ' The watermelon seeds pass through your digestive system.',
      ' You will not digest the watermelon seeds.',
      ' The watermelon seeds will be excreted.',
      ' You grow watermelons in your stomach.',
    ]);
    expect(first.choices).toHaveLength(12);
    expect(first.goldSet).toEqual([0, 1, 2, 3, 4]);
    expect(load('truthfulqa_mc2')).toHaveLength(817);
  });
});

/** An item with the given choice texts, joined by lm-eval's " " as the loaders do. */
const item = (texts: string[], gold: number, extra: Partial<McItem> = {}): McItem => ({
  id: 'x',
  task: 'x',
  context: 'Q',
  choices: texts.map((t) => ` ${t}`),
  targetDelimiter: ' ',
  gold,
  ...extra,
});
const ll = (...xs: number[]) => xs.map((loglik) => ({ loglik, greedy: false }));

describe('scoring', () => {
  const arc = getTask('arc_easy');

  it('acc takes the best total loglik, acc_norm the best per character', () => {
    // The short choice wins in total (-2 > -4.2) but loses per character (-2/2 = -1 < -4.2/14 = -0.3).
    const r = scoreItems(arc, [item(['no', 'absolutely not'], 1)], [ll(-2, -4.2)]);
    expect(r.results[0].correct).toEqual({ acc: false, acc_norm: true, acc_bytes: true });
  });

  it('acc_norm measures the choice without the target delimiter', () => {
    // Without the space: -1/1 < -2.9/3, so "bcd"; with it (-1/2 > -2.9/4) it would be "a".
    const r = scoreItems(arc, [item(['a', 'bcd'], 1)], [ll(-1, -2.9)]);
    expect(r.results[0].correct.acc_norm).toBe(true);
  });

  it('acc_norm counts code points as Python len() does; acc_bytes counts UTF-8 bytes', () => {
    // "😀😀": 2 code points (4 UTF-16 units, 8 bytes). Per code point -2.2/2 = -1.1 < -3/3, so "abc" wins;
    // per UTF-16 unit it would be -0.55 and the emoji would win. Per byte -2.2/8 > -3/3: the emoji wins,
    // as it does in total.
    const r = scoreItems(arc, [item(['😀😀', 'abc'], 1)], [ll(-2.2, -3)]);
    expect(r.results[0].correct).toEqual({ acc: false, acc_norm: true, acc_bytes: false });
  });

  it('ties go to the first choice, as numpy argmax', () => {
    expect(scoreItems(arc, [item(['a', 'b'], 1)], [ll(-1, -1)]).results[0].correct.acc).toBe(false);
  });

  it('mc2 is the normalised probability mass of the true answers', () => {
    const mc2 = getTask('truthfulqa_mc2');
    const it2 = item(['t1', 't2', 'f1', 'f2'], 0, { goldSet: [0, 1] });
    // (e^-1 + e^-2) / (e^-1 + e^-2 + e^-0.5 + e^-3) = 0.503214724 / 1.159532452 = 0.433980716 (bc -l).
    const r = scoreItems(mc2, [it2], [ll(-1, -2, -0.5, -3)]);
    expect(r.results[0].correct.mc2).toBeCloseTo(0.43398072, 7);
    // Far below exp()'s range the mass is still defined (lm-eval's np.exp would give 0/0).
    const far = scoreItems(mc2, [it2], [ll(-1001, -1002, -1000.5, -1003)]);
    expect(far.results[0].correct.mc2).toBeCloseTo(0.43398072, 7);
  });

  it('stderr is the sample standard deviation over sqrt(n)', () => {
    // acc = 1, 0, 1, 1: mean 0.75, sample variance (3 * 0.0625 + 0.5625) / 3 = 0.25, stderr 0.5 / 2.
    const items = [0, 1, 0, 0].map((g) => item(['a', 'b'], g));
    const r = scoreItems(
      arc,
      items,
      items.map(() => ll(-1, -2)),
    );
    expect(r.metrics.acc?.value).toBe(0.75);
    expect(r.metrics.acc?.stderr).toBeCloseTo(0.25, 12);
    expect(Number.isNaN(scoreItems(arc, [items[0]], [ll(-1, -2)]).metrics.acc?.stderr)).toBe(true);
  });

  it('MMLU: per subject, then weighted by size with the pooled stderr', () => {
    // Subject a: acc 1, 0 -> 0.5, stderr sqrt(0.5 / 2) = 0.5; subject b: 1, 1, 1, 0 -> 0.75, stderr 0.25.
    // Group: (2 * 0.5 + 4 * 0.75) / 6 = 0.6667 (not 0.625, the unweighted mean);
    // pooled variance (1 * 0.25 * 2 + 3 * 0.0625 * 4) / (6 - 2) = 0.3125, stderr sqrt(0.3125 / 6) = 0.2282177.
    const golds = { a: [0, 1], b: [0, 0, 0, 1] };
    const items = Object.entries(golds).flatMap(([s, gs]) =>
      gs.map((g) => item(['A', 'B'], g, { subject: s })),
    );
    const r = scoreItems(
      getTask('mmlu'),
      items,
      items.map(() => ll(-1, -2)),
    );
    expect(r.perSubject?.a.acc).toEqual({ value: 0.5, stderr: 0.5, n: 2 });
    expect(r.perSubject?.b.acc).toEqual({ value: 0.75, stderr: 0.25, n: 4 });
    expect(r.metrics.acc?.value).toBeCloseTo(4 / 6, 12);
    expect(r.metrics.acc?.stderr).toBeCloseTo(0.2282177, 7);
  });

  it('refuses scores that do not match the items', () => {
    expect(errorOf(() => scoreItems(arc, [item(['a', 'b'], 0)], [ll(-1)])).field).toBe('scores');
    expect(errorOf(() => scoreItems(arc, [item(['a', 'b'], 0)], [])).field).toBe('scores');
  });
});

describe('bad input', () => {
  it('limit must be a positive integer', () => {
    for (const limit of [0, -1, 1.5]) {
      const e = errorOf(() => load('arc_easy', { limit }));
      expect([e.code, e.field]).toEqual(['INVALID_ARGUMENT', 'limit']);
    }
  });

  it('fewshot must be within the task range', () => {
    for (const [task, fewshot] of [
      ['mmlu', 6],
      ['truthfulqa_mc1', 1],
      ['hellaswag', -1],
      ['arc_easy', 26],
    ] as const) {
      const e = errorOf(() => load(task, { fewshot }));
      expect([e.code, e.field]).toEqual(['INVALID_ARGUMENT', 'fewshot']);
    }
  });

  const roots: string[] = [];
  afterAll(() => {
    for (const r of roots) rmSync(r, { recursive: true, force: true });
  });

  /** A writable copy of one dataset folder (the originals are read-only) with one file edited. */
  function broken(
    folder: string,
    rel: string,
    edit: (orig: string) => string,
  ): { root: string; file: string } {
    const root = mkdtempSync(join(tmpdir(), 'lab-eval-tasks-'));
    roots.push(root);
    for (const f of readdirSync(join(datasets, folder), { recursive: true }) as string[]) {
      const from = join(datasets, folder, f);
      if (statSync(from).isDirectory()) mkdirSync(join(root, folder, f), { recursive: true });
      else {
        mkdirSync(join(root, folder, f, '..'), { recursive: true });
        writeFileSync(join(root, folder, f), readFileSync(from));
      }
    }
    const file = join(root, rel);
    writeFileSync(file, edit(readFileSync(file, 'utf8')));
    return { root, file };
  }

  it('a JSONL line that does not parse is named by file and line', () => {
    const { root, file } = broken('hellaswag', 'hellaswag/hellaswag_val_subset1000.jsonl', (t) => {
      const lines = t.split('\n');
      lines[2] = lines[2].slice(0, 40);
      return lines.join('\n');
    });
    const e = errorOf(() => load('hellaswag', { datasets: root }));
    expect([e.code, e.field]).toEqual(['FAILED_PRECONDITION', 'datasets']);
    expect(e.message).toContain(`${file}:3: not JSON`);
  });

  it('a JSONL record without a field is named by file and line', () => {
    const { root, file } = broken('arc', 'arc/arc_easy_test.jsonl', (t) =>
      t.replace('"gold": 1}', '"answer": 1}'),
    );
    expect(errorOf(() => load('arc_easy', { datasets: root })).message).toContain(
      `${file}:2: "gold" must be`,
    );
  });

  it('CSV rows that do not parse are named by file and line', () => {
    const rel = 'mmlu/test/abstract_algebra_test.csv';
    const csvError = (edit: (lines: string[]) => void) => {
      const { root, file } = broken('mmlu', rel, (t) => {
        const lines = t.split('\n');
        edit(lines);
        return lines.join('\n');
      });
      const e = errorOf(() => load('mmlu', { datasets: root }));
      expect([e.code, e.field]).toEqual(['FAILED_PRECONDITION', 'datasets']);
      return e.message.replace(file, '<file>');
    };
    // The file ends with a newline, so the last element is the empty line 102.
    expect(
      csvError((l) => {
        l[101] = '"never closed,0,1,2,3,1';
      }),
    ).toContain('<file>:102: unterminated quoted field');
    expect(
      csvError((l) => {
        l[3] = '"a"b,0,1,2,3,1';
      }),
    ).toContain('<file>:4: text after a closing quote');
    expect(
      csvError((l) => {
        l[2] = 'a,0,1,2,3';
      }),
    ).toContain('<file>:3: 5 fields, header has 6');
    expect(
      csvError((l) => {
        l[4] = 'a,0,1,2,3,D';
      }),
    ).toContain('<file>:5: answer must be 0..3, got "D"');
  });
});
