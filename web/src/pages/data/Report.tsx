// What a list of steps did (or, for a dry run, would do): per step the documents and characters in and out,
// what was removed and why, warnings, and a few before/after examples each naming what it was measured by.
import { For, Show } from 'solid-js';
import type { FullStepReport } from './api.ts';
import { fmt } from './job.tsx';

type Example = FullStepReport['examples'][number];

const num = (v: number) => (Number.isInteger(v) ? fmt(v) : String(Number(v.toFixed(3))));

/** "words 10 (minimum 50)": the measure a removal was judged by, in its own unit. */
export function measured(x: Example): string {
  if (!x.measure) return '';
  const limit =
    x.limitKind === 'min'
      ? ` (minimum ${num(x.limit)})`
      : x.limitKind === 'max'
        ? ` (maximum ${num(x.limit)})`
        : '';
  return `${x.measure} ${num(x.value)}${limit}`;
}

const lost = (a: number, b: number) => (a ? Math.round((100 * (a - b)) / a) : 0);

export function Report(props: { reports: FullStepReport[]; testid?: string; title?: string }) {
  return (
    <div class="report" data-testid={props.testid ?? 'data-report'}>
      <h3>{props.title ?? 'Cleaning report'}</h3>
      <For each={props.reports}>
        {(r) => (
          <details
            class="report-step"
            data-kind={r.kind}
            data-warned={r.warnings?.length ? 'true' : 'false'}
            open
          >
            <summary>
              <b>{r.kind}</b> · {fmt(r.documentsIn)} → {fmt(r.documentsOut)} documents
              <Show when={r.documentsIn !== r.documentsOut}>
                {' '}
                (<span class="error-text">−{lost(r.documentsIn, r.documentsOut)} %</span>)
              </Show>
              <Show when={r.charactersIn}>
                {' · '}
                {fmt(r.charactersIn)} → {fmt(r.charactersOut)} characters
              </Show>
              <span class="muted small"> · {Math.round(r.durationMs)} ms</span>
            </summary>
            <For each={r.warnings ?? []}>
              {(w) => (
                <div class="banner warn small" data-testid="step-warning">
                  {w}
                </div>
              )}
            </For>
            <div class="small">
              <Show
                when={Object.keys(r.removed).length}
                fallback={<span class="muted">nothing removed</span>}
              >
                Removed:{' '}
                {Object.entries(r.removed)
                  .sort((a, b) => b[1] - a[1])
                  .map(([k, v]) => `${k} ${fmt(v)}`)
                  .join(', ')}
              </Show>
              <Show when={Object.keys(r.counts).length}>
                {' · '}
                {Object.entries(r.counts)
                  .map(([k, v]) => `${k.replace(/_/g, ' ')} ${fmt(v)}`)
                  .join(', ')}
              </Show>
              <Show when={r.clusters}> · {fmt(r.clusters)} duplicate clusters</Show>
            </div>
            <For each={r.examples.slice(0, 6)}>
              {(x) => (
                <div class="example">
                  <div class="muted small" data-testid="example-label">
                    {x.reason} · document {x.index}
                    <Show when={x.keptIndex >= 0}> (kept {x.keptIndex})</Show>
                    <Show when={measured(x)}>{(m) => <> · {m()}</>}</Show>
                  </div>
                  <div class="before-after">
                    <pre class="before">{x.before}</pre>
                    <pre class="after">{x.after || '(removed)'}</pre>
                  </div>
                </div>
              )}
            </For>
          </details>
        )}
      </For>
    </div>
  );
}
