// What the svc-eval tests ask of a running stack over HTTP: JSON calls and a run followed over SSE.
import { openSse } from '../../supervisor/test/sse.ts';

export interface Metric {
  name: string;
  value: number;
  stderr: number;
  ciLow: number;
  ciHigh: number;
  n: number;
  group: string;
}

export interface Run {
  id: string;
  state: string;
  error: string;
  metrics: Metric[];
  prompt: { fewshot: number; firstItem: string; chatTemplate: boolean; description: string } | null;
  request: Record<string, unknown>;
  details: Record<string, unknown>;
  progress: { done: number; total: number };
}

export interface Item {
  index: number;
  id: string;
  prompt: string;
  correct: boolean;
  score: number;
  outputs: string[];
  details: unknown;
  choices: { text: string; loglik: number; loglikNorm: number; gold: boolean; tokens: number }[];
}

export function evalClient(base: () => string) {
  const api = async <T>(path: string, init?: RequestInit): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${base()}${path}`, { ...init, headers: { 'content-type': 'application/json' } });
    return { status: res.status, body: (await res.json()) as T };
  };
  const post = <T>(path: string, body: unknown) =>
    api<T>(path, { method: 'POST', body: JSON.stringify(body) });
  /** Follows a run's SSE stream to its end: the events' kinds and the run after each. */
  const follow = async (id: string): Promise<{ kinds: string[]; runs: Run[] }> => {
    const sse = await openSse(`${base()}/api/eval/runs/${id}/events`);
    try {
      const events = await sse.waitFor((es) => es.some((e) => e.event === 'done'), 240_000);
      return { kinds: events.map((e) => e.event ?? ''), runs: events.map((e) => JSON.parse(e.data) as Run) };
    } finally {
      sse.close();
    }
  };
  return { api, post, follow };
}
