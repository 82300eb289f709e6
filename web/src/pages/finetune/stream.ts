// Follows a training job's SSE stream (GET /api/train/jobs/{id}/events): every event once, in order, by its
// seq; the browser's own reconnects resume with Last-Event-ID, and a stream the browser gave up on is opened
// again after the last seq seen (?after=). Closes itself once the job has ended.
import { type TrainEvent, trainApi } from '../../api.ts';

export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'closed';

export interface JobStream {
  close(): void;
  /** Opens the stream again (after a resume) if it was closed. */
  reopen(): void;
}

export const TERMINAL = ['completed', 'failed', 'cancelled'];
export const isTerminal = (state: string) => TERMINAL.includes(state);

export function followJob(
  id: string,
  onEvent: (e: TrainEvent & { trainLoss?: number }) => void,
  onState: (s: StreamState) => void,
): JobStream {
  let lastSeq = 0;
  let ended = false;
  let es: EventSource | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;

  const close = () => {
    clearTimeout(retry);
    es?.close();
    es = undefined;
    onState('closed');
  };

  const handle = (msg: MessageEvent<string>) => {
    let e: TrainEvent;
    try {
      e = JSON.parse(msg.data) as TrainEvent;
    } catch {
      return;
    }
    if (typeof e.seq !== 'number' || e.seq <= lastSeq) return;
    lastSeq = e.seq;
    onState('live');
    onEvent(e);
    if (e.kind === 'state' && isTerminal(e.state)) {
      ended = true;
      close();
    }
  };

  const connect = () => {
    es?.close();
    const src = new EventSource(`${trainApi.eventsUrl(id)}${lastSeq ? `?after=${lastSeq}` : ''}`);
    es = src;
    for (const kind of ['step', 'eval', 'state', 'message'])
      src.addEventListener(kind, handle as EventListener);
    src.onopen = () => onState('live');
    src.onerror = (ev) => {
      if (es !== src) return;
      if (ev instanceof MessageEvent && ev.data) return; // a server-sent `error` message
      if (ended) return close();
      onState('reconnecting');
      if (src.readyState === EventSource.CLOSED) {
        clearTimeout(retry);
        retry = setTimeout(connect, 2000);
      }
    };
  };

  connect();
  return {
    close,
    reopen() {
      ended = false;
      if (!es) connect();
    },
  };
}
