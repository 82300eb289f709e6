// One run: its scores with their uncertainty and what each measures, the prompt format it was scored with,
// the per-subject table of a grouped task (MMLU), and the items browser.
import { createMemo, createSignal, For, Show } from 'solid-js';
import type { EvalMetric, EvalRun, EvalTask } from '../../api.ts';
import { formatNumber } from '../../components/LineChart.tsx';
import Items from './Items.tsx';
import {
  explain,
  fmtInterval,
  fmtScore,
  fmtSeconds,
  fmtStderr,
  isTerminal,
  lowerIsBetter,
} from './measures.ts';
import { RunProgress } from './RunsList.tsx';

function Score(props: { m: EvalMetric; headline: boolean }) {
  const why = () => explain(props.m.name);
  /** A share (0..1) whose ±1.96·stderr interval reaches outside 0..1. */
  const outOfRange = () => {
    const { value, ciLow, ciHigh } = props.m;
    if (value == null || value < 0 || value > 1 || lowerIsBetter(props.m.name)) return false;
    return (ciLow != null && ciLow < 0) || (ciHigh != null && ciHigh > 1);
  };
  return (
    <div
      class="eval-score"
      classList={{ headline: props.headline }}
      data-testid={`eval-metric-${props.m.name}`}
      data-value={props.m.value ?? ''}
    >
      <div class="eval-score-head">
        <span class="eval-score-name mono">{props.m.name}</span>
        <Show when={props.headline}>
          <span class="badge" title="The task's headline metric, used on the leaderboard">
            leaderboard
          </span>
        </Show>
      </div>
      <div class="eval-score-value">
        <span class="eval-score-number" data-testid="eval-metric-value">
          {fmtScore(props.m.value)}
        </span>{' '}
        <span class="muted">{fmtStderr(props.m)}</span>
      </div>
      <div class="small muted">
        {fmtInterval(props.m) ? `95% interval ${fmtInterval(props.m)} · ` : ''}n ={' '}
        {props.m.n.toLocaleString()}
        {lowerIsBetter(props.m.name) ? ' · lower is better' : ''}
      </div>
      <Show when={outOfRange()}>
        <div class="small warn-text">
          The interval leaves 0–1: with this few items the normal approximation behind it is poor.
        </div>
      </Show>
      <Show when={why()}>
        {(w) => (
          <p class="small eval-explain" data-testid={`eval-explain-${props.m.name}`}>
            {w()[0]}
            <br />
            <span class="muted">{w()[1]}</span>
          </p>
        )}
      </Show>
    </div>
  );
}

/** MMLU and other grouped tasks: one row per subject, worst first, with every metric. */
function Subjects(props: { metrics: readonly EvalMetric[]; onPick: (g: string) => void; picked: string }) {
  const names = createMemo(() => [...new Set(props.metrics.map((m) => m.name))]);
  const rows = createMemo(() => {
    const by = new Map<string, Map<string, EvalMetric>>();
    for (const m of props.metrics) {
      if (!by.has(m.group)) by.set(m.group, new Map());
      by.get(m.group)!.set(m.name, m);
    }
    const first = names()[0] ?? '';
    return [...by.entries()]
      .map(([group, ms]) => ({ group, ms }))
      .sort((a, b) => (a.ms.get(first)?.value ?? 0) - (b.ms.get(first)?.value ?? 0));
  });
  return (
    <details class="eval-subjects" open={rows().length <= 12}>
      <summary class="small">
        <b>Per subject</b> ({rows().length}) — the whole-task score is the mean over every question, so big
        subjects weigh more; click a subject to browse its items
      </summary>
      <div class="table-scroll">
        <table class="table" data-testid="eval-subjects">
          <thead>
            <tr>
              <th>Subject</th>
              <th class="num">n</th>
              <For each={names()}>{(n) => <th class="num">{n}</th>}</For>
            </tr>
          </thead>
          <tbody>
            <For each={rows()}>
              {(r) => (
                <tr
                  class="job-row"
                  classList={{ selected: r.group === props.picked }}
                  onClick={() => props.onPick(r.group === props.picked ? '' : r.group)}
                  data-group={r.group}
                >
                  <td>{r.group}</td>
                  <td class="num">{r.ms.values().next().value?.n ?? ''}</td>
                  <For each={names()}>
                    {(n) => (
                      <td class="num">
                        {fmtScore(r.ms.get(n)?.value)}{' '}
                        <span class="muted small">{r.ms.get(n) ? fmtStderr(r.ms.get(n)!) : ''}</span>
                      </td>
                    )}
                  </For>
                </tr>
              )}
            </For>
          </tbody>
        </table>
      </div>
    </details>
  );
}

export default function RunView(props: { run: EvalRun; task?: EvalTask }) {
  const r = () => props.run;
  const whole = () => r().metrics.filter((m) => m.group === '');
  const grouped = () => r().metrics.filter((m) => m.group !== '');
  const groups = createMemo(() => [...new Set(grouped().map((m) => m.group))].sort());
  const [group, setGroup] = createSignal('');
  const headlineName = () => props.task?.metrics[0] ?? whole()[0]?.name;
  /** Whole-task metrics in the task's order. */
  const ordered = () => {
    const order = props.task?.metrics ?? [];
    const pos = (n: string) => (order.includes(n) ? order.indexOf(n) : order.length);
    return [...whole()].sort((a, b) => pos(a.name) - pos(b.name));
  };
  const req = () => r().request;
  /** A setting of the request; the service echoes unset numbers as 0 (limit 0 = every item). */
  const setting = (k: string) =>
    req()[k] === undefined || req()[k] === '' || (k === 'limit' && req()[k] === 0)
      ? undefined
      : String(req()[k]);

  return (
    <div class="card" data-testid="eval-run-view" data-run={r().id} data-state={r().state}>
      <div class="card-head">
        <h2>
          {r().label || r().model} · {r().task}
        </h2>
        <span class={`state-badge eval-state-${r().state}`} data-testid="eval-run-state">
          {r().state}
        </span>
        <span class="muted small">
          {r().id}
          <Show when={r().jobId}>
            {' '}
            · checkpoint of {r().jobId} at step {r().step.toLocaleString()}
          </Show>
          <Show when={r().items}> · {r().items.toLocaleString()} items</Show>
          <Show when={r().tokens}> · {formatNumber(r().tokens)} tokens</Show>
          <Show when={r().seconds}> · {fmtSeconds(r().seconds)}</Show>
          <Show when={setting('limit')}> · limit {setting('limit')}</Show>
          <Show when={setting('seed')}> · seed {setting('seed')}</Show>
        </span>
      </div>
      <Show when={!isTerminal(r().state) || r().state === 'cancelled'}>
        <div class="train-status">
          <RunProgress run={r()} />
          <div class="small">
            <b>{r().state}</b>
            <Show when={r().progress.total}>
              {' '}
              · {r().progress.done.toLocaleString()} of {r().progress.total.toLocaleString()}
            </Show>
            <Show when={r().progress.message}> · {r().progress.message}</Show>
          </div>
        </div>
      </Show>
      <Show when={r().error}>
        <div class="banner error small" data-testid="eval-run-error">
          {r().error}
        </div>
      </Show>

      <Show when={whole().length}>
        <div class="eval-scores" data-testid="eval-scores">
          <For each={ordered()}>{(m) => <Score m={m} headline={m.name === headlineName()} />}</For>
        </div>
        <Show when={whole().some((m) => fmtStderr(m))}>
          <p class="small muted">
            ± is the standard error of the mean over the items; the 95% interval is the score ± 1.96 standard
            errors. With few items it is wide: two models whose intervals overlap may not differ at all.
          </p>
        </Show>
      </Show>

      <Show when={groups().length}>
        <Subjects metrics={grouped()} picked={group()} onPick={setGroup} />
      </Show>

      <Show when={r().prompt}>
        {(p) => (
          <details class="eval-prompt" data-testid="eval-prompt">
            <summary class="small">
              <b>Prompt format</b>: {p().fewshot} few-shot example{p().fewshot === 1 ? '' : 's'}
              {p().chatTemplate ? ', wrapped in the chat template' : ', plain text (no chat template)'}
            </summary>
            <table class="kv small">
              <tbody>
                <tr>
                  <th>Few-shot</th>
                  <td data-testid="eval-prompt-fewshot">
                    {p().fewshot}
                    <Show when={p().fewshotOrder}>
                      <span class="muted"> · {p().fewshotOrder}</span>
                    </Show>
                  </td>
                </tr>
                <tr>
                  <th>Chat template</th>
                  <td>{p().chatTemplate ? 'yes: each prompt is a user message' : 'no'}</td>
                </tr>
                <Show when={p().description}>
                  <tr>
                    <th>Task</th>
                    <td>{p().description}</td>
                  </tr>
                </Show>
              </tbody>
            </table>
            <div class="small muted">
              The first item, exactly as the model reads it (choices after the prompt):
            </div>
            <pre class="sample eval-first-item" data-testid="eval-first-item">
              {p().firstItem}
            </pre>
          </details>
        )}
      </Show>

      <Show when={r().state === 'completed' || r().items > 0}>
        <Show
          when={props.task?.kind !== 'perplexity'}
          fallback={
            <p class="small muted">
              A perplexity run scores one text, not items
              <Show when={r().details.tokens !== undefined}>
                : {formatNumber(Number(r().details.tokens))} tokens, {formatNumber(Number(r().details.bytes))}{' '}
                bytes in {String(r().details.windows ?? '?')} windows of {String(r().details.context ?? '?')}{' '}
                tokens, stride {String(r().details.stride ?? '?')}
              </Show>
              .
            </p>
          }
        >
          <Items runId={r().id} groups={groups()} group={group()} onGroup={setGroup} />
        </Show>
      </Show>
    </div>
  );
}
