// HumanEval problems (openai/human-eval's HumanEval.jsonl): one JSON object per line. The file is read whole (it
// is ~200 kB) and every line is checked, so a damaged copy fails loudly at load time, naming file and line, rather
// than as a puzzling sandbox failure hundreds of samples later.
import { readFile } from 'node:fs/promises';
import { LabError } from '@lab/common';

export interface HumanEvalProblem {
  /** `HumanEval/0` … `HumanEval/163`. */
  taskId: string;
  /** Imports, signature and docstring: the text a model continues. */
  prompt: string;
  /** The reference body; prompt + canonicalSolution passes the tests. */
  canonicalSolution: string;
  /** Python source defining `check(candidate)`. */
  test: string;
  /** The function the tests call: `check(<entryPoint>)`. */
  entryPoint: string;
}

export interface LoadOptions {
  /** Keep only the first `limit` problems (file order), for quick runs. */
  limit?: number;
}

const KEYS = {
  task_id: 'taskId',
  prompt: 'prompt',
  canonical_solution: 'canonicalSolution',
  test: 'test',
  entry_point: 'entryPoint',
} as const satisfies Record<string, keyof HumanEvalProblem>;

// The entry point is spliced into `check(<entry_point>)` in the program: it must be a plain identifier, or a
// crafted file could inject code outside the prompt.
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Reads and validates a HumanEval JSONL file. */
export async function loadHumanEval(file: string, opts: LoadOptions = {}): Promise<HumanEvalProblem[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new LabError('FAILED_PRECONDITION', `${file}: cannot read the HumanEval problems (${why})`, 'file');
  }
  return parseHumanEval(text, file, opts);
}

/** Parses JSONL text; `file` only names the source in error messages. */
export function parseHumanEval(text: string, file: string, opts: LoadOptions = {}): HumanEvalProblem[] {
  const limit = opts.limit;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new LabError('INVALID_ARGUMENT', `limit: must be a positive integer, got ${limit}`, 'limit');
  }
  const problems: HumanEvalProblem[] = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (limit !== undefined && problems.length >= limit) break;
    const line = lines[i].trim();
    if (line === '') continue;
    const where = `${file}:${i + 1}`;
    const problem = parseLine(line, where);
    if (seen.has(problem.taskId)) {
      throw new LabError('INVALID_ARGUMENT', `${where}: duplicate task_id ${problem.taskId}`, 'task_id');
    }
    seen.add(problem.taskId);
    problems.push(problem);
  }
  if (problems.length === 0) {
    throw new LabError('FAILED_PRECONDITION', `${file}: no HumanEval problems in the file`, 'file');
  }
  return problems;
}

function parseLine(line: string, where: string): HumanEvalProblem {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw new LabError('INVALID_ARGUMENT', `${where}: not valid JSON (${(err as Error).message})`, 'line');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new LabError('INVALID_ARGUMENT', `${where}: expected a JSON object`, 'line');
  }
  const record = value as Record<string, unknown>;
  const out: Partial<HumanEvalProblem> = {};
  for (const [key, prop] of Object.entries(KEYS)) {
    const v = record[key];
    if (typeof v !== 'string' || v === '') {
      throw new LabError('INVALID_ARGUMENT', `${where}: "${key}" must be a non-empty string`, key);
    }
    out[prop] = v;
  }
  const problem = out as HumanEvalProblem;
  if (!IDENTIFIER.test(problem.entryPoint)) {
    throw new LabError('INVALID_ARGUMENT', `${where}: entry_point is not a Python identifier`, 'entry_point');
  }
  if (!problem.prompt.includes(`def ${problem.entryPoint}(`)) {
    throw new LabError(
      'INVALID_ARGUMENT',
      `${where}: prompt does not define ${problem.entryPoint}`,
      'prompt',
    );
  }
  if (!/\bdef check\(/.test(problem.test)) {
    throw new LabError('INVALID_ARGUMENT', `${where}: test does not define check(candidate)`, 'test');
  }
  return problem;
}
