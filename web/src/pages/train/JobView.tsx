// One job: live curves from the SSE stream (deduplicated by seq), samples, controls and checkpoints. The
// stream resumes after the last drawn event when it reconnects; the job itself is polled every 2 s besides.
import { createEffect, createSignal, onCleanup, Show } from 'solid-js';
import { errorText, type TrainEvent, trainApi } from '../../api.ts';
import Charts, { type RunCharts } from './Charts.tsx';
import Checkpoints from './Checkpoints.tsx';
import InductionChart from './InductionChart.tsx';
import JobHeader, { type LiveStatus } from './JobHeader.tsx';
import Timeline from './Timeline.tsx';
import { type EvalEvent, eta, isTerminal, type TrainJobDetail } from './types.ts';

export interface JobViewProps {
  id: string;
  /** The job changed state (or was acted on): the queue fetches the list again. */
  onChanged: () => void;
  /** What the header shows, each time it changes: the queue's row of this job shows the same. */
  onStatus?: (id: string, status: LiveStatus) => void;
}

export default function JobView(props: JobViewProps) {
  const [job, setJob] = createSignal<TrainJobDetail>();
  const [evals, setEvals] = createSignal<EvalEvent[]>([]);
  /** First step point this page saw after the run (re)started: the pace of the ETA is measured from it. */
  let paceFrom: { step: number; elapsed: number } | undefined;
  const [state, setState] = createSignal<string>('');
  const [lossPoints, setLossPoints] = createSignal(0);
  const [latest, setLatest] = createSignal<TrainEvent>();
  const [sample, setSample] = createSignal<string>('');
  const [stream, setStream] = createSignal<'connecting' | 'live' | 'reconnecting' | 'closed'>('connecting');
  const [actionError, setActionError] = createSignal<string>();
  const [acting, setActing] = createSignal(false);

  const charts: RunCharts = {};
  /** Highest seq drawn: events at or below it (replays after a reconnect) are ignored. */
  let lastSeq = 0;
  let es: EventSource | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let disposed = false;

  // Counters and the latest event reach the DOM once per frame, however fast a history replay streams in.
  let points = 0;
  let newest: TrainEvent | undefined;
  let flushFrame = 0;
  const flush = () => {
    flushFrame = 0;
    setLossPoints(points);
    if (newest) setLatest(newest);
  };
  const scheduleFlush = () => {
    if (!flushFrame) flushFrame = requestAnimationFrame(flush);
  };

  const onEvent = (msg: MessageEvent<string>) => {
    let e: EvalEvent;
    try {
      e = JSON.parse(msg.data) as EvalEvent;
    } catch {
      return;
    }
    if (typeof e.seq !== 'number' || e.seq <= lastSeq) return;
    lastSeq = e.seq;
    setStream('live');
    if (e.kind === 'step') {
      if (e.loss !== undefined) {
        charts.loss?.append(e.step, [e.loss, null]);
        points++;
      }
      if (e.lr !== undefined) charts.lr?.append(e.step, [e.lr]);
      if (e.gradNorm !== undefined) charts.grad?.append(e.step, [e.gradNorm]);
      if (e.tokensPerSecond !== undefined) charts.tps?.append(e.step, [e.tokensPerSecond]);
      if (e.elapsedSeconds !== undefined && (!paceFrom || e.step <= paceFrom.step))
        paceFrom = { step: e.step, elapsed: e.elapsedSeconds };
      newest = e;
      scheduleFlush();
    } else if (e.kind === 'eval') {
      // Joins the step's point (same x): hovering it shows the training loss of that step beside this one.
      if (e.valLoss !== undefined) charts.loss?.append(e.step, [e.trainLoss ?? null, e.valLoss]);
      if (e.sample) setSample(e.sample);
      // A resumed run re-evaluates no step already stored, so each step appears once; keep it that way anyway.
      setEvals((l) => [...l.filter((x) => x.step !== e.step), e].sort((a, b) => a.step - b.step));
    }
    // A resume restarts the pace measurement (the time paused does not count, the first steps are slower).
    if (e.kind === 'state' && e.state === 'running') paceFrom = undefined;
    // A state the polled job has already moved past (history replayed on opening) is not shown again.
    const polled = job();
    if (e.state && !(polled && e.seq <= polled.lastSeq)) setState(e.state);
    if (e.kind === 'state') {
      void refresh();
      props.onChanged();
      if (isTerminal(e.state)) close();
    }
  };

  const close = () => {
    clearTimeout(retry);
    es?.close();
    es = undefined;
    setStream('closed');
  };

  const connect = () => {
    if (disposed) return;
    es?.close();
    // A fresh EventSource (after the browser gave up) resumes after the last drawn event with ?after=.
    const src = new EventSource(`${trainApi.eventsUrl(props.id)}${lastSeq ? `?after=${lastSeq}` : ''}`);
    es = src;
    for (const kind of ['step', 'eval', 'state', 'message'])
      src.addEventListener(kind, onEvent as EventListener);
    src.onopen = () => setStream('live');
    src.onerror = (ev) => {
      if (es !== src) return;
      if (ev instanceof MessageEvent && ev.data) return; // a server-sent `error` message; the stream goes on
      if (isTerminal(state())) return close();
      // Open or connecting: the browser retries by itself with Last-Event-ID. Closed: retry ourselves.
      setStream('reconnecting');
      if (src.readyState === EventSource.CLOSED) {
        clearTimeout(retry);
        retry = setTimeout(connect, 2000);
      }
    };
  };

  const refresh = async () => {
    try {
      const j = await trainApi.get(props.id);
      setJob(j);
      if (!state() || isTerminal(j.state) || j.state !== state()) setState(j.state);
      if (isTerminal(j.state) && es && lastSeq >= j.lastSeq) close();
    } catch {
      // the next poll tries again
    }
  };

  void refresh();
  connect();
  const poll = setInterval(refresh, 2000);
  onCleanup(() => {
    disposed = true;
    clearInterval(poll);
    cancelAnimationFrame(flushFrame);
    close();
  });

  const act = async (verb: 'cancel' | 'pause' | 'resume') => {
    setActionError(undefined);
    setActing(true);
    try {
      const j = await trainApi.action(props.id, verb);
      setJob(j);
      setState(j.state);
      props.onChanged();
      if (verb === 'resume' && !es) connect();
    } catch (err) {
      setActionError(errorText(err));
    } finally {
      setActing(false);
    }
  };
  const s = () => state() || job()?.state || '';
  const timing = () => {
    const l = latest();
    if (!l || l.elapsedSeconds === undefined) return undefined;
    const now = { step: l.step, elapsed: l.elapsedSeconds };
    const left = s() === 'running' ? eta(paceFrom, now, job()?.iters ?? 0) : undefined;
    return { elapsed: l.elapsedSeconds, left };
  };
  const status = (): LiveStatus => {
    const l = latest();
    const j = job();
    // The stream's newest step unless the polled job is already past it (the stream reconnecting).
    const live = l && (!j || l.step >= j.step) ? l : undefined;
    return {
      state: s(),
      step: live?.step ?? j?.step ?? 0,
      loss: live ? live.loss : j?.loss || undefined,
      valLoss: evals().at(-1)?.valLoss ?? (j?.valLoss || undefined),
      tokensPerSecond: l?.tokensPerSecond,
    };
  };
  // Only once the header has read the job itself: before that it says step 0, or a step of the history
  // the stream replays on opening, which the queue's row (already polled) is not to copy.
  createEffect(() => {
    if (job()) props.onStatus?.(props.id, status());
  });

  return (
    <div class="card" data-testid="job-view" data-job={props.id}>
      <JobHeader
        id={props.id}
        job={job()}
        status={status()}
        timing={timing()}
        stream={stream()}
        acting={acting()}
        terminal={isTerminal(s())}
        onAct={(verb) => void act(verb)}
      />
      <Show when={actionError()}>
        <div class="banner error small" role="alert">
          {actionError()}
        </div>
      </Show>
      <Show when={job()?.error}>
        <div class="banner error small">{job()?.error}</div>
      </Show>
      <Charts charts={charts} lossPoints={lossPoints()} />
      <InductionChart evals={evals()} />
      <h3 class="small">Latest sample</h3>
      <div class="sample" data-testid="job-sample">
        {sample() || <span class="muted">No sample yet: one is generated at each evaluation.</span>}
      </div>
      <h3 class="small">Evaluations</h3>
      <Timeline evals={evals()} />
      <h3 class="small">Checkpoints</h3>
      <Checkpoints job={job()} />
    </div>
  );
}
