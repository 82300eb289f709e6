// Bus events as sentences: what the Status page's event rows say instead of raw JSON.
import type { HealthResponse } from '../../api.ts';

/** One readable event row: what kind of event, the job or run it is about, and a sentence. */
export interface Described {
  kind: 'metrics' | 'job' | 'eval' | 'generation' | 'service' | 'other';
  /** The job, run, model or service the event is about. */
  about: string;
  text: string;
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Losses and scores with three significant digits after the point where it matters. */
export function fmt(n: number): string {
  if (Number.isInteger(n)) return String(n);
  const a = Math.abs(n);
  if (a >= 100) return n.toFixed(1);
  if (a >= 0.01) return n.toFixed(2);
  return n.toPrecision(3);
}

function join(parts: (string | undefined | false)[]): string {
  return parts.filter((p): p is string => !!p).join(' · ');
}

function trainPoint(d: Obj): string {
  const step = num(d.step);
  const loss = num(d.loss);
  const valLoss = num(d.valLoss);
  const kind = str(d.kind);
  return join([
    step !== undefined && `step ${step}`,
    kind === 'eval' && 'evaluation',
    loss !== undefined && `loss ${fmt(loss)}`,
    valLoss !== undefined && `val loss ${fmt(valLoss)}`,
    num(d.perplexity) !== undefined && `perplexity ${fmt(num(d.perplexity)!)}`,
    num(d.tokensPerSecond) !== undefined && `${Math.round(num(d.tokensPerSecond)!)} tok/s`,
  ]);
}

function jobState(id: string, d: Obj): string {
  const state = str(d.state) ?? 'changed state';
  const what = str(d.kind);
  if (what === 'tokenizer-train') {
    const done = num(d.done);
    const total = num(d.total);
    return join([
      `tokenizer ${str(d.name) ?? id.replace(/^tokenize-/, '')} ${state}`,
      done !== undefined && total ? `${done} of ${total} merges` : undefined,
      num(d.vocabSize) !== undefined && `vocabulary ${num(d.vocabSize)}`,
      str(d.error) ?? str(d.message),
    ]);
  }
  if (what === 'data') {
    return join([
      `dataset ${str(d.datasetId) ?? id.replace(/^data-/, '')} ${state}`,
      str(d.error) ?? str(d.message),
    ]);
  }
  const step = num(d.step);
  return join([`job ${state}`, step !== undefined && step > 0 && `at step ${step}`, str(d.message)]);
}

function evalEvent(d: Obj): string {
  const progress = isObj(d.progress) ? d.progress : {};
  const done = num(progress.done);
  const total = num(progress.total);
  const metrics = Array.isArray(d.metrics) ? d.metrics.filter(isObj) : [];
  const scores = metrics
    .filter((m) => num(m.value) !== undefined && str(m.name))
    .slice(0, 3)
    .map((m) => `${m.name} ${fmt(num(m.value)!)}`);
  return join([
    str(d.task) && str(d.model) ? `${d.task} on ${d.model}` : (str(d.task) ?? str(d.model)),
    str(d.state),
    done !== undefined && total ? `${done}/${total}` : undefined,
    ...scores,
    str(d.error),
  ]);
}

/** Reads a bus event (subject + payload) as a sentence; unknown subjects fall back to their subject. */
export function describeEvent(subject: string, data: unknown): Described {
  const d = isObj(data) ? data : {};
  const parts = subject.split('.');
  const middle = parts.slice(2, -1).join('.');
  const last = parts[parts.length - 1];
  if (parts[0] === 'lab' && parts[1] === 'run' && last === 'metrics' && parts.length >= 4) {
    return { kind: 'metrics', about: middle, text: trainPoint(d) || 'metrics' };
  }
  if (parts[0] === 'lab' && parts[1] === 'job' && last === 'state' && parts.length >= 4) {
    return { kind: 'job', about: middle, text: jobState(middle, d) };
  }
  if (
    parts[0] === 'lab' &&
    parts[1] === 'eval' &&
    (last === 'progress' || last === 'state') &&
    parts.length >= 4
  ) {
    return { kind: 'eval', about: middle, text: evalEvent(d) || `eval ${last}` };
  }
  if (subject === 'lab.infer.generation') {
    const model = str(d.model) ?? 'a model';
    return {
      kind: 'generation',
      about: model,
      text: join([
        `${model} generated ${num(d.completionTokens) ?? '?'} tokens`,
        num(d.promptTokens) !== undefined && `prompt ${num(d.promptTokens)} tokens`,
        num(d.ms) !== undefined && `${num(d.ms)} ms`,
        str(d.finishReason) && `stopped: ${d.finishReason}`,
      ]),
    };
  }
  if (parts[0] === 'lab' && parts[1] === 'service' && last === 'state' && parts.length >= 4) {
    return {
      kind: 'service',
      about: middle,
      text: join([
        `${middle} ${str(d.state) ?? 'changed state'}`,
        num(d.port) !== undefined && `port ${num(d.port)}`,
        num(d.pid) !== undefined && `pid ${num(d.pid)}`,
      ]),
    };
  }
  return { kind: 'other', about: '', text: subject };
}

/** What a service's GetInfo says it can do (in /api/health; null when it did not answer). */
export type Rpcs = NonNullable<HealthResponse['services'][number]['rpcs']>;

/** "12 of 12 RPCs", "not built yet" when none is, "RPCs unknown" when the service did not say. */
export function rpcsText(rpcs: Rpcs | null | undefined): string {
  if (!rpcs) return 'RPCs unknown';
  if (rpcs.implemented === 0) return 'not built yet';
  return `${rpcs.implemented} of ${rpcs.total} RPCs`;
}
