import { createEffect, createSignal, For, on, onCleanup, Show } from 'solid-js';
import { createStore } from 'solid-js/store';
import { type ChatMessage, errorText, type GenerateRequest, inferApi, type ModelInfo } from '../../api.ts';
import { type AdapterInfo, adapterOf, adaptersApi, lineageText } from './adapters.ts';
import { type Generation, startGeneration } from './generation.ts';
import { resolveModel } from './hooks.ts';
import { ModelSelect } from './ModelPicker.tsx';
import SamplingControls from './SamplingControls.tsx';
import { fitToModel, type Settings, toParams } from './settings.ts';
import TokenView, { ProbLegend } from './TokenView.tsx';

interface Side {
  key: 'A' | 'B';
  model: () => string;
  setModel: (m: string) => void;
  settings: Settings;
  set: ReturnType<typeof createStore<Settings>>[1];
  gen: () => Generation | undefined;
  setGen: (g: Generation | undefined) => void;
}

/** A side follows the page's model until the learner picks another for it. */
function makeSide(key: Side['key'], pageModel: () => string, settings: Settings): Side {
  const [picked, setModel] = createSignal('');
  const m = () => picked() || pageModel();
  const [s, set] = createStore<Settings>({ ...settings });
  const [gen, setGen] = createSignal<Generation>();
  return { key, model: m, setModel, settings: s, set, gen, setGen };
}

/** What differs between the two sides, so the learner sees at a glance what the comparison is about. */
function differences(a: Side, b: Side): string[] {
  const out: string[] = [];
  if (a.model() !== b.model()) out.push('model');
  for (const k of Object.keys(a.settings) as (keyof Settings)[])
    if (a.settings[k] !== b.settings[k]) out.push(k);
  return out;
}

/** Which adapter a side runs, with its lineage, or that it runs a model without one. */
function SideLineage(props: { side: Side; models: readonly ModelInfo[]; adapters: readonly AdapterInfo[] }) {
  const info = () => props.models.find((m) => m.name === props.side.model());
  const adapter = () => adapterOf(props.adapters, info(), props.side.model());
  const isBase = () => props.adapters.some((a) => a.base === props.side.model());
  return (
    <div
      class="small muted"
      data-testid={`compare-lineage-${props.side.key}`}
      data-adapter={adapter()?.name ?? ''}
      data-base={adapter()?.base ?? props.side.model()}
    >
      <Show
        when={adapter()}
        fallback={
          info()?.source === 'checkpoint'
            ? `no adapter: checkpoint of job ${info()?.jobId} at step ${info()?.step}`
            : isBase()
              ? 'base model: no adapter'
              : 'no adapter'
        }
      >
        {(a) => <>{lineageText(a())}</>}
      </Show>
    </div>
  );
}

function Pane(props: {
  side: Side;
  models: readonly ModelInfo[];
  adapters: readonly AdapterInfo[];
  inspectedId?: number;
  onInspect: (gen: Generation, token?: number) => void;
}) {
  const s = props.side;
  const [picked, setPicked] = createSignal<number>();
  const sample = () => s.gen()?.state.samples[0];
  return (
    <div
      class="pane"
      classList={{ inspected: !!s.gen() && s.gen()?.id === props.inspectedId }}
      data-testid={`compare-${s.key}`}
    >
      <div class="pane-head">
        <strong>{s.key}</strong>
        <ModelSelect
          models={props.models}
          value={s.model()}
          onChange={s.setModel}
          testId={`compare-model-${s.key}`}
        />
      </div>
      <SideLineage side={s} models={props.models} adapters={props.adapters} />
      <details class="pane-settings">
        <summary class="small">
          Settings: temperature {s.settings.temperature}
          {s.settings.topK ? ` · top-k ${s.settings.topK}` : ''}
          {s.settings.topP < 1 ? ` · top-p ${s.settings.topP}` : ''}
          {s.settings.minP ? ` · min-p ${s.settings.minP}` : ''}
          {s.settings.seed ? ` · seed ${s.settings.seed}` : ''} · {s.settings.maxTokens} tokens
        </summary>
        <SamplingControls settings={s.settings} set={s.set} compact testId={`compare-settings-${s.key}`} />
      </details>
      <Show when={s.gen()} fallback={<p class="muted small empty">Not run yet.</p>}>
        {(g) => (
          <>
            <Show when={g().state.error}>
              <div class="banner error small">{g().state.error}</div>
            </Show>
            <Show when={sample()}>
              {(smp) => (
                <>
                  <div class="small muted">
                    {smp().done?.completionTokens ?? smp().tokens.length} tokens · {g().state.status}
                    <Show when={smp().done}>
                      {(d) => (
                        <>
                          {' '}
                          · mean p{' '}
                          {smp().tokens.length
                            ? `${((100 * smp().tokens.reduce((a, t) => a + Math.exp(t.logprob), 0)) / smp().tokens.length).toFixed(1)}%`
                            : '—'}{' '}
                          · {d().tokensPerSecond.toFixed(1)} tokens/s · {d().finishReason}
                        </>
                      )}
                    </Show>
                  </div>
                  <Show when={!smp().tokens.length && smp().text}>
                    <div class="sample-out">{smp().text}</div>
                  </Show>
                  <Show when={smp().tokens.length}>
                    <TokenView
                      tokens={smp().tokens}
                      selected={picked()}
                      onSelect={(i) => {
                        setPicked(i);
                        props.onInspect(g(), i);
                      }}
                      shownChars={smp().text.length}
                      ended={g().state.status !== 'running'}
                      testId={`compare-tokens-${s.key}`}
                    />
                  </Show>
                </>
              )}
            </Show>
          </>
        )}
      </Show>
    </div>
  );
}

/**
 * The same prompt on two models or with two settings, side by side, started together. `pair` (from a link:
 * a base and a fine-tune of it) puts its models on A and B with identical settings and a fixed seed, so
 * the adapter is the only difference between the columns.
 */
export default function Compare(props: {
  models: readonly ModelInfo[];
  model: string;
  settings: Settings;
  pair?: { a?: string; b?: string };
  inspectedId?: number;
  onInspect: (gen: Generation, title: string, token?: number) => void;
}) {
  // A side shows one sample, so both start from the page's settings with n = 1; B starts greedy so the first
  // comparison already shows what sampling adds.
  const a = makeSide('A', () => props.model, { ...props.settings, n: 1 });
  const b = makeSide('B', () => props.model, { ...props.settings, n: 1, temperature: 0 });
  const sides = [a, b];
  /** Both sides on A's settings; a seed fixed when A's is random, so sampling draws the same numbers. */
  const sameSettings = () => {
    const shared: Settings = { ...a.settings, n: 1, seed: a.settings.seed.trim() || '1' };
    a.set(shared);
    b.set({ ...shared });
  };
  createEffect(
    on(
      () => props.pair,
      (pair) => {
        if (!pair) return;
        if (pair.a) a.setModel(pair.a);
        if (pair.b) b.setModel(pair.b);
        sameSettings();
      },
    ),
  );
  // A link names a checkpoint by its job's id; once it is listed, the sides show its served name.
  let resolved: typeof props.pair;
  createEffect(
    on(
      () => [props.pair, props.models] as const,
      ([pair, models]) => {
        if (!pair || resolved === pair) return;
        const ra = pair.a ? resolveModel(models, pair.a) : undefined;
        const rb = pair.b ? resolveModel(models, pair.b) : undefined;
        if ((pair.a && !ra) || (pair.b && !rb)) return;
        if (ra) a.setModel(ra.name);
        if (rb) b.setModel(rb.name);
        resolved = pair;
      },
    ),
  );
  const [adapters, setAdapters] = createSignal<AdapterInfo[]>([]);
  // Checkpoint adapters appear as jobs write them, when the model list changes too.
  createEffect(
    on(
      () => props.models,
      async () => {
        try {
          setAdapters((await adaptersApi.list({ timeoutMs: 10_000 })).adapters);
        } catch {
          // Without the list the columns only lack their lineage; the next model change tries again.
        }
      },
    ),
  );
  const [prompt, setPrompt] = createSignal('ROMEO:\n');
  const [asChat, setAsChat] = createSignal(false);
  const [error, setError] = createSignal<string>();
  const running = () => sides.some((s) => s.gen()?.state.status === 'running');

  const request = (s: Side): GenerateRequest => {
    const messages: ChatMessage[] = [{ role: 'user', content: prompt() }];
    const params = fitToModel(
      toParams(s.settings),
      props.models.find((m) => m.name === s.model()),
    );
    return asChat() ? { model: s.model(), messages, params } : { model: s.model(), prompt: prompt(), params };
  };

  const runBoth = () => {
    let reqs: GenerateRequest[];
    try {
      reqs = sides.map(request);
    } catch (err) {
      setError(errorText(err));
      return;
    }
    setError(undefined);
    sides.forEach((s, i) => {
      const req = reqs[i]!;
      const g = startGeneration(req.model, (signal) => inferApi.generate(req, signal));
      s.setGen(g);
    });
    const first = a.gen();
    if (first) props.onInspect(first, 'side A of the comparison');
  };
  const stopAll = () => {
    for (const s of sides) s.gen()?.stop();
  };
  onCleanup(stopAll);

  return (
    <div class="card compare" data-testid="compare">
      <div class="card-head">
        <h2>Side by side</h2>
        <span class="small muted">
          {differences(a, b).length
            ? `A and B differ in: ${differences(a, b).join(', ')}`
            : 'A and B are identical: change a model or a setting'}
        </span>
      </div>
      <textarea
        rows={3}
        class="complete-prompt"
        data-testid="compare-prompt"
        value={prompt()}
        onInput={(e) => setPrompt(e.currentTarget.value)}
      />
      <div class="form-actions">
        <Show
          when={running()}
          fallback={
            <button
              type="button"
              class="btn primary"
              data-testid="compare-run"
              disabled={!prompt() || sides.some((s) => !s.model())}
              onClick={runBoth}
            >
              Run both
            </button>
          }
        >
          <button type="button" class="btn danger" onClick={stopAll}>
            Stop
          </button>
        </Show>
        <button
          type="button"
          class="btn"
          data-testid="compare-same-settings"
          title="B takes A's sampling settings, with a fixed seed on both"
          onClick={sameSettings}
        >
          Same settings on both
        </button>
        <label class="inline small">
          <input type="checkbox" checked={asChat()} onChange={(e) => setAsChat(e.currentTarget.checked)} />
          send as a chat message (through the chat template)
        </label>
      </div>
      <Show when={error()}>
        <div class="banner error small">{error()}</div>
      </Show>
      <div class="panes">
        <For each={sides}>
          {(s) => (
            <Pane
              side={s}
              models={props.models}
              adapters={adapters()}
              inspectedId={props.inspectedId}
              onInspect={(g, i) => props.onInspect(g, `side ${s.key} of the comparison`, i)}
            />
          )}
        </For>
      </div>
      <ProbLegend />
    </div>
  );
}
