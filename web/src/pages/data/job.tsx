// A data job's progress: followed over SSE and drawn as a bar with its state and message.
import { Show } from 'solid-js';
import { type DataJobProgress, dataApi } from '../../api.ts';
import { formatCount } from '../../components/format.ts';

/** Counts on the Data pages, written as everywhere else in the lab (14,209). */
export const fmt = formatCount;

/** Follows a data job's SSE progress until done/failed; returns a function that stops following. */
export function followDataJob<P extends DataJobProgress>(
  jobId: string,
  onProgress: (p: P) => void,
): () => void {
  const es = new EventSource(dataApi.jobEventsUrl(jobId));
  const handle = (msg: MessageEvent<string>) => {
    let p: P;
    try {
      p = JSON.parse(msg.data) as P;
    } catch {
      return;
    }
    onProgress(p);
    if (p.state !== 'running') es.close();
  };
  es.addEventListener('progress', handle);
  es.addEventListener('message', handle);
  return () => es.close();
}

export function Progress(props: { p?: DataJobProgress }) {
  const pct = () => {
    const p = props.p;
    if (!p) return 0;
    if (p.state === 'done') return 100;
    return p.total > 0 ? Math.min(100, (100 * p.done) / p.total) : 0;
  };
  return (
    <Show when={props.p}>
      {(p) => (
        <div class="train-status">
          <div
            class="progress"
            classList={{ done: p().state === 'done', failed: p().state === 'failed' }}
            role="progressbar"
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={Math.round(pct())}
          >
            <div class="progress-fill" style={{ width: `${pct()}%` }} />
          </div>
          <div class="small" data-testid="data-progress">
            <b>{p().state}</b>
            {/* svc-data's last message is "done": the state says it already. */}
            <Show when={p().message && p().message.trim().toLowerCase() !== p().state}> · {p().message}</Show>
            <Show when={p().error}>
              {(e) => (
                <span class="error-text">
                  {' · '}
                  {e().message}
                </span>
              )}
            </Show>
          </div>
        </div>
      )}
    </Show>
  );
}
