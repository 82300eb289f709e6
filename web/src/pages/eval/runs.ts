// The page's one view of eval runs: the list is polled, and the runs that are queued or running are followed
// live over their SSE streams (`state`, `progress`, `done`, each carrying the whole run).
import { createSignal, onCleanup } from 'solid-js';
import { createStore, reconcile, unwrap } from 'solid-js/store';
import { type EvalRun, errorText, evalApi } from '../../api.ts';
import { isTerminal } from './measures.ts';

const POLL_MS = 3000;
/** Browsers hold at most 6 HTTP/1.1 connections per host: leave room for the page's own requests. */
const MAX_STREAMS = 3;

/** Which of two copies of a run is newer: a finished run beats a live one, more progress beats less. */
function newer(a: EvalRun, b: EvalRun): EvalRun {
  if (isTerminal(a.state) !== isTerminal(b.state)) return isTerminal(a.state) ? a : b;
  if (a.state === 'running' && b.state === 'queued') return a;
  if (b.state === 'running' && a.state === 'queued') return b;
  return a.progress.done > b.progress.done ? a : b;
}

/** Follows one run's events until its `done` event; answers a function that stops following. */
export function followRun(id: string, onRun: (run: EvalRun) => void, onEnd: () => void): () => void {
  const es = new EventSource(evalApi.eventsUrl(id));
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    es.close();
    onEnd();
  };
  const handle = (msg: MessageEvent<string>) => {
    let run: EvalRun;
    try {
      run = JSON.parse(msg.data) as EvalRun;
    } catch {
      return;
    }
    if (!run || typeof run.id !== 'string') return;
    onRun(run);
    if (isTerminal(run.state)) close();
  };
  for (const kind of ['state', 'progress', 'done']) es.addEventListener(kind, handle as EventListener);
  es.addEventListener('done', () => close());
  // The browser reconnects an interrupted stream by itself; a closed one is picked up again by the poll.
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) close();
  };
  return close;
}

export function createRuns(onFinished: (run: EvalRun) => void) {
  const [runs, setRuns] = createStore<EvalRun[]>([]);
  const [total, setTotal] = createSignal(0);
  const [error, setError] = createSignal<string>();
  const streams = new Map<string, () => void>();

  const put = (run: EvalRun) => {
    const i = runs.findIndex((r) => r.id === run.id);
    if (i < 0) {
      setRuns((all) => [run, ...all]);
      return;
    }
    const before = runs[i]!;
    const next = newer(run, before);
    if (next === before) return;
    if (isTerminal(next.state) && !isTerminal(before.state)) onFinished(next);
    setRuns(i, reconcile(next));
  };

  const follow = () => {
    const live = runs.filter((r) => !isTerminal(r.state));
    // Running runs first: those are the ones whose progress moves.
    live.sort((a, b) => Number(b.state === 'running') - Number(a.state === 'running'));
    for (const r of live) {
      if (streams.size >= MAX_STREAMS) break;
      if (streams.has(r.id)) continue;
      streams.set(
        r.id,
        followRun(r.id, put, () => streams.delete(r.id)),
      );
    }
  };

  let inFlight = false;
  const refresh = async () => {
    if (inFlight) return;
    inFlight = true;
    try {
      const r = await evalApi.runs({ limit: 200 }, { timeoutMs: 10_000 });
      const merged = r.runs.map((run) => {
        const mine = runs.find((x) => x.id === run.id);
        if (!mine) return run;
        const next = newer(run, mine);
        if (next === mine) return unwrap(mine);
        if (isTerminal(next.state) && !isTerminal(mine.state)) onFinished(next);
        return next;
      });
      setRuns(reconcile(merged, { key: 'id' }));
      setTotal(r.total);
      setError(undefined);
      follow();
    } catch (err) {
      setError(errorText(err));
    } finally {
      inFlight = false;
    }
  };

  void refresh();
  const timer = setInterval(() => void refresh(), POLL_MS);
  onCleanup(() => {
    clearInterval(timer);
    for (const stop of [...streams.values()]) stop();
  });

  return {
    runs,
    total,
    error,
    refresh,
    /** A run just submitted or fetched: shown at once, followed live. */
    add(run: EvalRun) {
      put(run);
      follow();
    },
    get: (id: string) => runs.find((r) => r.id === id),
  };
}
