// Architecture: configure a transformer and see its diagram, parameters, compute and memory change as the
// numbers do. The arithmetic is the engine's (engine/src/estimate.ts, via /api/train/estimate, which also
// times a step at the throughput measured on this machine); the page adds inference memory with a KV cache.
import { createEffect, createSignal, For, type JSX, on, onCleanup, Show } from 'solid-js';
import { errorText } from '../api.ts';
import {
  type ArchConfig,
  type ArchEstimate,
  bytes,
  checkConfig,
  estimate,
  estimateBody,
  familyDefaults,
  GPU_BYTES,
  inferenceMemory,
  PRESETS,
  si,
  trainHref,
} from './architecture/config.ts';
import { Diagram } from './architecture/Diagram.tsx';

const DEFAULT_PRESET = 'nanogpt-cpu';
const PART_NAMES = [
  ['embeddings', 'Embeddings (tokens, positions)'],
  ['attention', 'Attention (q, k, v, output)'],
  ['mlp', 'MLPs'],
  ['norms', 'Norms'],
  ['head', 'Unembedding (untied)'],
] as const;

function FitBar(props: { label: string; need: number; have: number | undefined; testId: string }) {
  const share = () => (props.have ? props.need / props.have : Number.NaN);
  const fits = () => share() <= 1;
  return (
    <div
      data-testid={props.testId}
      data-fits={props.have ? String(fits()) : 'unknown'}
      style={{ 'margin-top': '4px' }}
    >
      <div class="small" style={{ display: 'flex', 'justify-content': 'space-between' }}>
        <span>{props.label}</span>
        <span>
          {props.have
            ? `${bytes(props.need)} of ${bytes(props.have)} · ${fits() ? 'fits' : 'does not fit'}`
            : 'this machine’s memory is unknown to this gateway'}
        </span>
      </div>
      <div style={{ height: '10px', background: '#eceef3', 'border-radius': '5px', overflow: 'hidden' }}>
        <div
          style={{
            width: `${Math.min(100, (share() || 0) * 100)}%`,
            height: '100%',
            background: fits() ? '#3a9b5d' : '#c94242',
          }}
        />
      </div>
    </div>
  );
}

export default function ArchitecturePage() {
  const [base, setBase] = createSignal(DEFAULT_PRESET);
  const [cfg, setCfg] = createSignal<ArchConfig>({ ...PRESETS[DEFAULT_PRESET]! });
  const [batch, setBatch] = createSignal(12);
  const [est, setEst] = createSignal<ArchEstimate>();
  const [estError, setEstError] = createSignal<string>();
  const set = <K extends keyof ArchConfig>(k: K, v: ArchConfig[K]) => setCfg({ ...cfg(), [k]: v });
  const invalid = () => checkConfig(cfg());

  let timer: ReturnType<typeof setTimeout> | undefined;
  let inflight: AbortController | undefined;
  createEffect(
    on([cfg, batch, base], ([c, b, p]) => {
      clearTimeout(timer);
      if (checkConfig(c)) return;
      // Debounced: typing 768 must not ask for 7 and 76 first.
      timer = setTimeout(async () => {
        inflight?.abort();
        inflight = new AbortController();
        try {
          setEst(await estimate(estimateBody(p, c, b), { signal: inflight.signal }));
          setEstError(undefined);
        } catch (err) {
          if (err instanceof DOMException && err.name === 'AbortError') return;
          setEstError(errorText(err));
        }
      }, 150);
    }),
  );
  onCleanup(() => {
    clearTimeout(timer);
    inflight?.abort();
  });

  const choose = (name: string) => {
    setBase(name);
    setCfg({ ...PRESETS[name]! });
  };
  const num = (k: keyof ArchConfig, label: string, hint?: string): JSX.Element => (
    <label class="small" style={{ display: 'flex', 'flex-direction': 'column' }} title={hint}>
      {label}
      <input
        type="number"
        min={1}
        data-testid={`arch-${k}`}
        value={cfg()[k] as number}
        aria-invalid={invalid()?.field === k}
        style={{ width: '100px', 'border-color': invalid()?.field === k ? '#c33' : undefined }}
        onInput={(e) => {
          const v = e.currentTarget.valueAsNumber;
          if (!Number.isNaN(v)) set(k, v as never);
        }}
      />
    </label>
  );
  const pick = <K extends keyof ArchConfig>(
    k: K,
    label: string,
    options: readonly ArchConfig[K][],
  ): JSX.Element => (
    <label class="small" style={{ display: 'flex', 'flex-direction': 'column' }}>
      {label}
      <select
        data-testid={`arch-${k}`}
        value={String(cfg()[k])}
        onChange={(e) => set(k, e.currentTarget.value as ArchConfig[K])}
      >
        <For each={options}>{(o) => <option value={String(o)}>{String(o)}</option>}</For>
      </select>
    </label>
  );
  const infer = () => (est() ? inferenceMemory(cfg(), est()!.parameters.total) : undefined);
  const machine = () => est()?.machine?.memoryBytes || undefined;

  return (
    <div class="architecture-page">
      <div class="card">
        <div style={{ display: 'flex', gap: '6px', 'flex-wrap': 'wrap', 'align-items': 'center' }}>
          <span class="small muted">Presets:</span>
          <For each={Object.keys(PRESETS)}>
            {(name) => (
              <button
                type="button"
                class={`btn ${base() === name ? 'primary' : ''}`}
                data-testid="arch-preset"
                data-preset={name}
                onClick={() => choose(name)}
              >
                {name}
              </button>
            )}
          </For>
        </div>
        <div style={{ display: 'flex', gap: '10px', 'flex-wrap': 'wrap', 'margin-top': '10px' }}>
          <label class="small" style={{ display: 'flex', 'flex-direction': 'column' }}>
            Family
            <select
              data-testid="arch-family"
              value={cfg().family}
              onChange={(e) => {
                const family = e.currentTarget.value as ArchConfig['family'];
                setCfg({ ...cfg(), family, ...familyDefaults(family) });
              }}
            >
              <option value="gpt2">gpt2</option>
              <option value="llama">llama</option>
            </select>
          </label>
          {num('nLayer', 'Layers')}
          {num('nHead', 'Heads')}
          {num('nKvHead', 'KV heads', 'Fewer than heads: grouped-query attention, a smaller KV cache')}
          {num('nEmbd', 'Width (d_model)')}
          {num('ffnHidden', 'FFN width')}
          {num('context', 'Context')}
          {num('vocabSize', 'Vocabulary')}
          {pick('positions', 'Positions', ['learned', 'sinusoidal', 'rope', 'none'])}
          {pick('norm', 'Norm', ['layernorm', 'rmsnorm'])}
          {pick('activation', 'Activation', ['gelu', 'gelu_tanh', 'swiglu', 'relu'])}
          <label class="small" style={{ display: 'flex', 'flex-direction': 'column' }}>
            Tied embeddings
            <input
              type="checkbox"
              data-testid="arch-tie"
              checked={cfg().tieEmbeddings}
              onChange={(e) => set('tieEmbeddings', e.currentTarget.checked)}
            />
          </label>
          <label
            class="small"
            style={{ display: 'flex', 'flex-direction': 'column' }}
            title="Sequences per training step"
          >
            Batch (training)
            <input
              type="number"
              min={1}
              data-testid="arch-batch"
              value={batch()}
              style={{ width: '80px' }}
              onInput={(e) =>
                !Number.isNaN(e.currentTarget.valueAsNumber) && setBatch(e.currentTarget.valueAsNumber)
              }
            />
          </label>
        </div>
        <Show when={invalid()}>
          <div class="banner error small" role="alert" data-testid="arch-invalid">
            {invalid()!.message}
          </div>
        </Show>
        <Show when={estError()}>
          <div class="banner error small" role="alert" data-testid="arch-error">
            {estError()}
          </div>
        </Show>
      </div>
      <div style={{ display: 'flex', gap: '12px', 'flex-wrap': 'wrap', 'align-items': 'flex-start' }}>
        <div class="card" style={{ flex: '0 0 auto' }}>
          <Diagram cfg={cfg()} />
        </div>
        <Show when={est()}>
          {(e) => (
            <div
              class="card"
              style={{ flex: '1 1 380px' }}
              data-testid="arch-numbers"
              data-stale={String(!!invalid())}
            >
              <strong>Parameters</strong>
              <table class="table small" data-testid="arch-params">
                <tbody>
                  <For each={PART_NAMES.filter(([k]) => e().parameters[k] > 0)}>
                    {([k, label]) => (
                      <tr data-part={k}>
                        <td>{label}</td>
                        <td class="num">{e().parameters[k].toLocaleString('en')}</td>
                        <td class="num muted">
                          {((100 * e().parameters[k]) / e().parameters.total).toFixed(1)}%
                        </td>
                      </tr>
                    )}
                  </For>
                  <tr>
                    <td>
                      <strong>Total</strong>
                    </td>
                    <td class="num" data-testid="arch-total" data-value={e().parameters.total}>
                      <strong>{e().parameters.total.toLocaleString('en')}</strong>
                    </td>
                    <td />
                  </tr>
                </tbody>
              </table>
              <p class="small" data-testid="arch-flops" data-forward={e().flopsPerToken.forward}>
                <strong>Compute:</strong> {si(e().flopsPerToken.forward)}FLOP per token forward (about 2 per
                weight, plus attention over the context), {si(e().flopsPerToken.total)}FLOP per token to train
                (the backward pass costs about twice the forward).
              </p>
              <p class="small" data-testid="arch-time" data-seconds={e().secondsPerStep}>
                <strong>Time:</strong> about{' '}
                {e().secondsPerStep < 1
                  ? `${(e().secondsPerStep * 1000).toFixed(0)} ms`
                  : `${e().secondsPerStep.toFixed(2)} s`}{' '}
                per step of {batch()} × {cfg().context} tokens on this machine, at the training throughput the
                engine measured here.
              </p>
              <strong>Memory</strong>
              <table class="table small">
                <tbody>
                  <tr>
                    <td>
                      Training: weights + gradients + AdamW’s two moments + activations (batch {batch()})
                    </td>
                    <td class="num" data-testid="arch-train-mem" data-value={e().memory.total}>
                      {bytes(e().memory.total)}
                    </td>
                  </tr>
                  <tr>
                    <td>
                      Inference: weights + KV cache for {cfg().context} tokens ({bytes(infer()!.kvCache)})
                    </td>
                    <td class="num" data-testid="arch-infer-mem" data-value={infer()!.total}>
                      {bytes(infer()!.total)}
                    </td>
                  </tr>
                </tbody>
              </table>
              <FitBar
                label="Training on this machine"
                need={e().memory.total}
                have={machine()}
                testId="fit-train-cpu"
              />
              <FitBar
                label="Training on a 16 GB GPU"
                need={e().memory.total}
                have={GPU_BYTES}
                testId="fit-train-gpu"
              />
              <FitBar
                label="Inference on this machine"
                need={infer()!.total}
                have={machine()}
                testId="fit-infer-cpu"
              />
              <FitBar
                label="Inference on a 16 GB GPU"
                need={infer()!.total}
                have={GPU_BYTES}
                testId="fit-infer-gpu"
              />
              <div style={{ 'margin-top': '12px' }}>
                <a class="btn primary" data-testid="arch-train" href={trainHref(base(), cfg())}>
                  Train this →
                </a>
              </div>
            </div>
          )}
        </Show>
      </div>
    </div>
  );
}
