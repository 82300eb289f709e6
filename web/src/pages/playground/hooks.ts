import { createEffect, createSignal, on, onCleanup } from 'solid-js';
import {
  errorText,
  type GenerateRequest,
  inferApi,
  isAbort,
  type ModelInfo,
  type PreflightInfo,
} from '../../api.ts';

/** New checkpoints appear while a job trains: the list is polled this often. */
const MODELS_POLL_MS = 3000;
const PREFLIGHT_DEBOUNCE_MS = 350;

/** The models svc-infer can serve, kept fresh while the page is open. */
export function createModels() {
  const [models, setModels] = createSignal<ModelInfo[]>([]);
  const [error, setError] = createSignal<string>();
  const [loaded, setLoaded] = createSignal(false);
  let inFlight = false;
  let last = '';
  const refresh = async () => {
    if (inFlight) return;
    inFlight = true;
    try {
      const r = await inferApi.models({ timeoutMs: 10_000 });
      // An unchanged list keeps its objects: the picker's options are not rebuilt (an open dropdown stays open).
      const json = JSON.stringify(r.models ?? []);
      if (json !== last) {
        last = json;
        setModels(r.models ?? []);
      }
      setError(undefined);
    } catch (err) {
      setError(errorText(err));
    } finally {
      inFlight = false;
      setLoaded(true);
    }
  };
  void refresh();
  const timer = setInterval(() => void refresh(), MODELS_POLL_MS);
  onCleanup(() => clearInterval(timer));
  return { models, error, loaded, refresh };
}

/**
 * The preflight of `request()` (debounced, the previous one aborted): what the prompt looks like to the model
 * before anything is generated. `request()` returning undefined clears it.
 */
export function createPreflight(request: () => GenerateRequest | undefined) {
  const [info, setInfo] = createSignal<PreflightInfo>();
  const [loading, setLoading] = createSignal(false);
  const [error, setError] = createSignal<string>();
  let ctrl: AbortController | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;

  createEffect(
    on(
      () => {
        const r = request();
        // Serialised so that equal requests built anew (new arrays) do not refetch.
        return r ? JSON.stringify(r) : '';
      },
      (key) => {
        clearTimeout(timer);
        ctrl?.abort();
        if (!key) {
          setInfo(undefined);
          setLoading(false);
          setError(undefined);
          return;
        }
        setLoading(true);
        timer = setTimeout(async () => {
          const mine = new AbortController();
          ctrl = mine;
          try {
            setInfo(await inferApi.preflight(JSON.parse(key) as GenerateRequest, { signal: mine.signal }));
            setError(undefined);
          } catch (err) {
            if (isAbort(err)) return;
            setError(errorText(err));
          } finally {
            if (ctrl === mine) setLoading(false);
          }
        }, PREFLIGHT_DEBOUNCE_MS);
      },
    ),
  );
  onCleanup(() => {
    clearTimeout(timer);
    ctrl?.abort();
  });
  return { info, loading, error };
}

/** `?model=…` of the page's hash route (`#/playground?model=job@300`). */
export function modelFromHash(): string | undefined {
  const q = location.hash.split('?')[1];
  if (!q) return undefined;
  return new URLSearchParams(q).get('model') ?? undefined;
}

/**
 * The model a link asks for: its exact name, or — since a job can be named by name or by id — the checkpoint
 * of the job whose id or name matches, at that step.
 */
export function resolveModel(models: readonly ModelInfo[], wanted: string): ModelInfo | undefined {
  const exact = models.find((m) => m.name === wanted);
  if (exact) return exact;
  const at = wanted.lastIndexOf('@');
  if (at < 0) return undefined;
  const job = wanted.slice(0, at);
  const step = Number(wanted.slice(at + 1));
  return models.find(
    (m) => m.source === 'checkpoint' && m.step === step && (m.jobId === job || m.name.startsWith(`${job}@`)),
  );
}
