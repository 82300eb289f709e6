import { LabError } from '@lab/common';
import { arcChallenge, arcEasy } from './arc.ts';
import { hellaswag } from './hellaswag.ts';
import { mmlu, mmluSubjects } from './mmlu.ts';
import { truthfulqaMc1, truthfulqaMc2 } from './truthfulqa.ts';
import type { LoadOptions, McItem, TaskSpec } from './types.ts';

export { MMLU_SUBJECTS } from './mmlu.ts';
export { meanStderr, pooled, scoreItems, toRequests } from './score.ts';
export type * from './types.ts';

export const TASKS: ReadonlyMap<string, TaskSpec> = new Map(
  [hellaswag, mmlu, ...mmluSubjects, arcEasy, arcChallenge, truthfulqaMc1, truthfulqaMc2].map((t) => [
    t.name,
    t,
  ]),
);

export function listTasks(): TaskSpec[] {
  return [...TASKS.values()];
}

export function getTask(name: string): TaskSpec {
  const task = TASKS.get(name);
  if (!task) {
    throw new LabError(
      'INVALID_ARGUMENT',
      `task: unknown task "${name}"; known: ${[...TASKS.keys()].join(', ')}`,
      'task',
    );
  }
  return task;
}

/**
 * The first item exactly as it will be scored, so a result can record the prompt format it was made with
 * (description, few-shot layout, delimiters) rather than a paraphrase of it.
 */
export function renderFirstItem(task: TaskSpec, opts: Omit<LoadOptions, 'limit'>): McItem {
  return task.load({ ...opts, limit: 1 })[0];
}
