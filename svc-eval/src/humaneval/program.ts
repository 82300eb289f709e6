// The program that decides a HumanEval sample, assembled as openai/human-eval does: the prompt, the completion,
// a newline, the test code, a newline, then `check(<entry_point>)`. It passes when it runs to the end.
import type { HumanEvalProblem } from './problems.ts';

/**
 * Where a raw completion is cut: the start of the next top-level statement. Same list as the Codex paper and
 * lm-evaluation-harness's `humaneval` task (`until`): a base model that finished the function tends to go on with
 * another def/class, a comment, a `__main__` guard or prints, none of which belong to the answer (and a stray
 * top-level call could fail or hang a correct body).
 */
export const STOP_SEQUENCES: readonly string[] = ['\nclass', '\ndef', '\n#', '\nif', '\nprint'];

/** The completion up to (excluding) the earliest stop sequence; unchanged when none occurs. */
export function truncateCompletion(raw: string, stops: readonly string[] = STOP_SEQUENCES): string {
  let end = raw.length;
  for (const stop of stops) {
    if (stop === '') continue;
    const at = raw.indexOf(stop);
    if (at !== -1 && at < end) end = at;
  }
  return raw.slice(0, end);
}

/** The full program to run in the sandbox for one completion (the body that continues `prompt`). */
export function checkProgram(
  problem: Pick<HumanEvalProblem, 'prompt' | 'test' | 'entryPoint'>,
  completion: string,
): string {
  return `${problem.prompt}${completion}\n${problem.test}\ncheck(${problem.entryPoint})`;
}
