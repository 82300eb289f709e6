import { createEffect, createSignal, For, onCleanup, Show } from 'solid-js';
import type { BusEvent } from '../../api.ts';
import { type Described, describeEvent } from './describe.ts';

const MAX_EVENTS = 50;

interface Row extends BusEvent {
  seq: number;
  described: Described;
}

/** The payload as indented JSON, for the row's details. */
function rawJson(data: unknown): string {
  let s: string;
  try {
    s = typeof data === 'string' ? data : JSON.stringify(data, null, 2);
  } catch {
    s = String(data);
  }
  if (s === undefined) s = '';
  return s.length > 4000 ? `${s.slice(0, 4000)}…` : s;
}

function shortTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return (
    d.toLocaleTimeString(undefined, { hour12: false }) + `.${String(d.getMilliseconds()).padStart(3, '0')}`
  );
}

/**
 * Live view of `GET /api/events` (SSE) for the Status page: the last 50 messages that crossed the event bus,
 * newest first, each read as a sentence (job, step, loss…) with its raw JSON behind a toggle. `busKind` is the
 * gateway's bus: with the in-process one, events published by the services never reach the gateway.
 */
export default function StatusEvents(props: { url?: string; busKind?: 'nats' | 'memory' }) {
  const [rows, setRows] = createSignal<Row[]>([]);
  const [state, setState] = createSignal<'connecting' | 'open' | 'error'>('connecting');
  const [paused, setPaused] = createSignal(false);
  const [received, setReceived] = createSignal(0);

  let seq = 0;
  let pending: Row[] = [];
  let frame = 0;

  // Events can arrive in bursts (metrics of a training run); collect them and render once per frame.
  const flush = () => {
    frame = 0;
    if (pending.length === 0) return;
    const incoming = pending.reverse();
    pending = [];
    setRows((old) => incoming.concat(old).slice(0, MAX_EVENTS));
  };

  // Which subjects to follow (NATS wildcards: * one token, > the rest); the gateway validates the pattern.
  const [subject, setSubject] = createSignal('lab.>');
  const [draft, setDraft] = createSignal('lab.>');

  const onMessage = (msg: MessageEvent<string>) => {
    setState('open');
    setReceived((n) => n + 1);
    if (paused()) return;
    let ev: BusEvent;
    try {
      const parsed = JSON.parse(msg.data) as Partial<BusEvent>;
      ev = {
        subject: typeof parsed.subject === 'string' ? parsed.subject : '(no subject)',
        data: parsed.data,
        time: typeof parsed.time === 'string' ? parsed.time : new Date().toISOString(),
      };
    } catch {
      ev = { subject: '(unparsable message)', data: msg.data, time: new Date().toISOString() };
    }
    pending.push({ ...ev, seq: ++seq, described: describeEvent(ev.subject, ev.data) });
    if (pending.length > MAX_EVENTS) pending.splice(0, pending.length - MAX_EVENTS);
    if (!frame) frame = requestAnimationFrame(flush);
  };

  createEffect(() => {
    const subj = subject();
    const base = props.url ?? '/api/events';
    const url = subj === 'lab.>' ? base : `${base}?subject=${encodeURIComponent(subj)}`;
    setState('connecting');
    const es = new EventSource(url);
    es.onopen = () => setState('open');
    // EventSource retries by itself; CLOSED means the gateway refused (e.g. a malformed subject pattern).
    es.onerror = () => setState(es.readyState === EventSource.CLOSED ? 'error' : 'connecting');
    es.onmessage = onMessage;
    onCleanup(() => es.close());
  });

  onCleanup(() => {
    if (frame) cancelAnimationFrame(frame);
  });

  return (
    <div class="card events" data-testid="events">
      <div class="card-head">
        <h2>Events</h2>
        <span class={`pill sse-${state()}`} data-testid="events-state">
          <span class="dot" aria-hidden="true" />
          {state() === 'open' ? 'live' : state() === 'connecting' ? 'connecting…' : 'disconnected'}
        </span>
        <span class="muted small">
          {received()} received · showing the last {MAX_EVENTS}
        </span>
        <span class="spacer" />
        <form
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            setSubject(draft().trim() || 'lab.>');
          }}
        >
          <input
            class="subject-filter mono small"
            value={draft()}
            onInput={(e) => setDraft(e.currentTarget.value)}
            aria-label="Subject pattern"
            title="NATS subject pattern: * matches one token, > the rest (e.g. lab.run.*.metrics)"
            data-testid="events-subject"
          />
          <button type="submit" class="btn small">
            Follow
          </button>
        </form>
        <button type="button" class="btn small" onClick={() => setPaused((p) => !p)}>
          {paused() ? 'Resume' : 'Pause'}
        </button>
        <button type="button" class="btn small" onClick={() => setRows([])}>
          Clear
        </button>
      </div>
      <p class="muted small">
        Services publish job states (<code>lab.job.&lt;id&gt;.state</code>) and training metrics (
        <code>lab.run.&lt;id&gt;.metrics</code>) on the bus; the gateway forwards them here as server-sent
        events.
      </p>
      <Show when={state() === 'error'}>
        <div class="banner error small" role="alert">
          The gateway closed the event stream for <code>{subject()}</code>. Check the subject pattern (for
          example <code>lab.&gt;</code> or <code>lab.run.*.metrics</code>) and press Follow again.
        </div>
      </Show>
      <Show when={props.busKind === 'memory'}>
        <div class="banner warn small" data-testid="events-no-nats">
          <strong>No NATS server: the gateway uses an in-process event bus.</strong> Each service then has its
          own bus too, so the events the services publish (job states, training metrics, eval progress) cannot
          reach the gateway, and this panel stays empty even while jobs run. Install <code>nats-server</code>{' '}
          (<code>apt-get install nats-server</code>, or a release from nats.io) so that it is on PATH, then
          restart the lab: it starts NATS by itself and the events appear here.
        </div>
      </Show>
      <Show
        when={rows().length > 0}
        fallback={
          <p class="muted empty" data-testid="events-empty">
            {props.busKind === 'memory'
              ? 'No events: without NATS, events from the services do not reach the gateway (see above).'
              : 'No events yet. Start a job and they appear here.'}
          </p>
        }
      >
        <ol class="event-list readable" data-testid="event-list">
          <For each={rows()}>
            {(r) => (
              <li
                class="event"
                data-testid="event-row"
                data-kind={r.described.kind}
                style={{ 'grid-template-columns': '7.5rem 6.5rem minmax(0, 1fr)', 'align-items': 'start' }}
              >
                <span class="mono muted time">{shortTime(r.time)}</span>
                <span class={`pill event-kind kind-${r.described.kind}`} style={{ 'justify-self': 'start' }}>
                  {r.described.kind}
                </span>
                <span class="event-body">
                  <span class="mono strong about">{r.described.about}</span>{' '}
                  <span class="event-text" data-testid="event-text">
                    {r.described.text}
                  </span>
                  <details class="event-raw">
                    <summary class="mono muted small subject">{r.subject}</summary>
                    <pre class="mono small">{rawJson(r.data)}</pre>
                  </details>
                </span>
              </li>
            )}
          </For>
        </ol>
      </Show>
    </div>
  );
}
