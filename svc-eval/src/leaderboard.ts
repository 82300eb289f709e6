// The leaderboard: each model's latest completed score per task (the task's first metric, whole task).
import type { EvalRun, LeaderboardRow, TaskInfo } from '@lab/proto/eval';

export function leaderboard(
  runs: readonly EvalRun[],
  tasks: readonly TaskInfo[],
  only: readonly string[] = [],
): LeaderboardRow[] {
  const primary = new Map(tasks.map((t) => [t.name, t.metrics[0]]));
  const rows = new Map<string, LeaderboardRow>();
  // Oldest first, so a later run replaces an earlier one.
  // Variance runs vary the prompt format on purpose: they are the variance report's, not the leaderboard's.
  const done = runs
    .filter((r) => r.state === 'completed' && !r.varianceId)
    .sort((a, b) => a.finishedAt.localeCompare(b.finishedAt));
  for (const run of done) {
    if (only.length && !only.includes(run.task)) continue;
    const metric = run.metrics.find((m) => m.name === primary.get(run.task) && m.group === '');
    if (!metric) continue;
    let row = rows.get(run.model);
    if (!row) {
      row = { model: run.model, label: run.label || run.model, jobId: run.jobId, step: run.step, scores: [] };
      rows.set(run.model, row);
    }
    row.scores = row.scores.filter((s) => s.task !== run.task);
    row.scores.push({ task: run.task, metric, runId: run.id, finishedAt: run.finishedAt });
  }
  return [...rows.values()].sort((a, b) => a.model.localeCompare(b.model));
}
