import { batch } from 'solid-js';
import { createStore, produce } from 'solid-js/store';
import {
  type BeamNode,
  type BeamResult,
  type DoneEvent,
  errorText,
  type InferEvent,
  isAbort,
  type PreflightInfo,
  type TokenEvent,
} from '../../api.ts';

export interface Sample {
  tokens: TokenEvent[];
  /** What the transcript shows: the `text` fields so far, then the done event's whole text. */
  text: string;
  done?: DoneEvent;
}

export type GenStatus = 'running' | 'done' | 'stopped' | 'error';

export interface GenState {
  model: string;
  status: GenStatus;
  preflight?: PreflightInfo;
  samples: Sample[];
  beams: BeamResult[];
  tree: BeamNode[];
  error?: string;
  conversationId?: string;
  startedAt: number;
  firstTokenAt?: number;
}

/** One streamed request (a chat turn, a completion, one side of a comparison). */
export interface Generation {
  readonly id: number;
  readonly state: GenState;
  stop(): void;
  /** Settles when the stream has ended, however it ended. */
  readonly finished: Promise<void>;
}

let nextId = 1;

/** Tokens reach the store at most this often: one store update per batch, not per token. */
const FLUSH_MS = 30;

function emptySample(): Sample {
  return { tokens: [], text: '' };
}

/**
 * Starts `open(signal)` and mirrors its events into a reactive store. `stop()` aborts the fetch, which the
 * gateway turns into a server-side cancel; what streamed so far stays.
 */
export function startGeneration(
  model: string,
  open: (signal: AbortSignal) => AsyncGenerator<InferEvent>,
): Generation {
  const ctrl = new AbortController();
  const [state, setState] = createStore<GenState>({
    model,
    status: 'running',
    samples: [emptySample()],
    beams: [],
    tree: [],
    startedAt: performance.now(),
  });

  let pending: TokenEvent[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    timer = undefined;
    if (!pending.length) return;
    const batchOf = pending;
    pending = [];
    setState(
      produce((s) => {
        if (s.firstTokenAt === undefined) s.firstTokenAt = performance.now();
        for (const t of batchOf) {
          while (s.samples.length <= t.sample) s.samples.push(emptySample());
          const sample = s.samples[t.sample]!;
          sample.tokens.push(t);
          sample.text += t.text;
        }
      }),
    );
  };

  const onDone = (d: DoneEvent) => {
    flush();
    setState(
      produce((s) => {
        while (s.samples.length <= d.sample) s.samples.push(emptySample());
        const sample = s.samples[d.sample]!;
        sample.done = d;
        // The whole text is authoritative: streamed pieces may have been held back for a stop string.
        if (d.text || !sample.text) sample.text = d.text;
        if (d.beams?.length) s.beams = d.beams;
        if (d.tree?.length) s.tree = d.tree;
        if (d.conversationId) s.conversationId = d.conversationId;
      }),
    );
  };

  const run = async () => {
    try {
      for await (const ev of open(ctrl.signal)) {
        if (ev.type === 'token') {
          pending.push(ev.data);
          timer ??= setTimeout(flush, FLUSH_MS);
        } else if (ev.type === 'preflight') {
          setState('preflight', ev.data);
        } else {
          onDone(ev.data);
        }
      }
      clearTimeout(timer);
      flush();
      setState('status', ctrl.signal.aborted ? 'stopped' : 'done');
    } catch (err) {
      clearTimeout(timer);
      flush();
      batch(() => {
        if (isAbort(err) || ctrl.signal.aborted) {
          setState('status', 'stopped');
        } else {
          setState('status', 'error');
          setState('error', errorText(err));
        }
      });
    }
  };

  return {
    id: nextId++,
    state,
    stop: () => ctrl.abort(),
    finished: run(),
  };
}

/** Probability from a log-probability. */
export const prob = (logprob: number): number => Math.exp(logprob);

/** 0.4321 → "43.2%", tiny values keep two significant digits. */
export function pct(p: number): string {
  if (p >= 0.995) return `${(p * 100).toFixed(p >= 0.9995 ? 0 : 1)}%`;
  if (p >= 0.001) return `${(p * 100).toFixed(1)}%`;
  if (p <= 0) return '0%';
  return `${(p * 100).toPrecision(2)}%`;
}

/** Makes whitespace visible in a token: space → ␣ (only when the token is all whitespace), newline → ↵. */
export function showToken(s: string): string {
  if (s === '') return '∅';
  const shown = s.replace(/\n/g, '↵').replace(/\t/g, '⇥').replace(/\r/g, '␍');
  return /^ +$/.test(shown) ? shown.replace(/ /g, '␣') : shown;
}
