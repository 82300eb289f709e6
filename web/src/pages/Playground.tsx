import { createEffect, createMemo, createSignal, For, onCleanup, Show } from 'solid-js';
import { createStore } from 'solid-js/store';
import { errorText, type ModelInfo } from '../api.ts';
import { compareFromHash } from './playground/adapters.ts';
import Chat from './playground/Chat.tsx';
import Compare from './playground/Compare.tsx';
import Complete from './playground/Complete.tsx';
import type { Generation } from './playground/generation.ts';
import { createModels, modelFromHash, resolveModel } from './playground/hooks.ts';
import Inspector from './playground/Inspector.tsx';
import { ImportModel, ModelFacts, ModelSelect } from './playground/ModelPicker.tsx';
import SamplingControls from './playground/SamplingControls.tsx';
import { fitToModel, loadSettings, type Settings, saveSettings, toParams } from './playground/settings.ts';

type Mode = 'chat' | 'complete' | 'compare';
const MODES: { id: Mode; label: string }[] = [
  { id: 'chat', label: 'Chat' },
  { id: 'complete', label: 'Complete' },
  { id: 'compare', label: 'Side by side' },
];
const LAST_MODEL_KEY = 'lab.playground.model';

/** Without a link or a remembered choice: the newest checkpoint (what a learner just trained), else the first. */
function defaultModel(models: readonly ModelInfo[]): string {
  let last = '';
  try {
    last = localStorage.getItem(LAST_MODEL_KEY) ?? '';
  } catch {
    // storage disabled
  }
  if (last && models.some((m) => m.name === last)) return last;
  return (models.find((m) => m.source === 'checkpoint') ?? models[0])?.name ?? '';
}

interface Inspected {
  gen: Generation;
  title: string;
  token?: number;
}

export default function PlaygroundPage() {
  const { models, error: modelsError, loaded, refresh } = createModels();
  const [wanted, setWanted] = createSignal(modelFromHash());
  const [model, setModel] = createSignal('');
  // A "compare with base" link opens the side-by-side view on its two models.
  const [pair, setPair] = createSignal(compareFromHash());
  const [mode, setMode] = createSignal<Mode>(pair() ? 'compare' : 'chat');
  const [visited, setVisited] = createSignal<Set<Mode>>(new Set(['chat', mode()]));
  const [settings, setSettings] = createStore<Settings>(loadSettings());
  /** Per mode, so switching to compare and back keeps the chat's inspected answer. */
  const [inspectedBy, setInspectedBy] = createSignal<Partial<Record<Mode, Inspected>>>({});
  const inspected = () => inspectedBy()[mode()];

  const onHash = () => {
    setWanted(modelFromHash());
    const p = compareFromHash();
    if (p) {
      setPair(p);
      switchMode('compare');
    }
  };
  window.addEventListener('hashchange', onHash);
  onCleanup(() => window.removeEventListener('hashchange', onHash));

  // A link's model wins once it is listed (a checkpoint can take a few seconds to show up after training).
  createEffect(() => {
    const list = models();
    const w = wanted();
    if (w) {
      const hit = resolveModel(list, w);
      if (hit) {
        setModel(hit.name);
        setWanted(undefined);
      }
      return;
    }
    if (!list.some((m) => m.name === model())) setModel(defaultModel(list));
  });

  const pick = (name: string) => {
    setModel(name);
    setWanted(undefined);
    try {
      localStorage.setItem(LAST_MODEL_KEY, name);
    } catch {
      // storage disabled
    }
    // The address names the model, so a reload or a shared link opens the same one.
    history.replaceState(null, '', `#/playground?model=${encodeURIComponent(name)}`);
  };

  createEffect(() => saveSettings(JSON.parse(JSON.stringify(settings)) as Settings));
  const paramsError = createMemo(() => {
    try {
      toParams(settings);
      return undefined;
    } catch (err) {
      return errorText(err);
    }
  });
  const info = () => models().find((m) => m.name === model());
  const params = () => fitToModel(toParams(settings), info());

  const switchMode = (m: Mode) => {
    setMode(m);
    setVisited((v) => new Set([...v, m]));
  };
  const inspect = (gen: Generation, title: string, token?: number) =>
    setInspectedBy((all) => ({ ...all, [mode()]: { gen, title, token } }));

  return (
    <div class="playground" data-testid="playground">
      <Show when={modelsError()}>
        <div class="banner error" role="alert" data-testid="pg-error">
          <strong>The inference service did not answer.</strong> {modelsError()}
        </div>
      </Show>

      <div class="card pg-top">
        <div class="card-head">
          <div class="inline">
            <strong>Model</strong>
            <ModelSelect
              models={models()}
              value={model()}
              onChange={pick}
              waitingFor={wanted() && !resolveModel(models(), wanted() ?? '') ? wanted() : undefined}
            />
          </div>
          <button
            type="button"
            class="btn small"
            onClick={() => void refresh()}
            title="Look for new checkpoints"
          >
            ↻
          </button>
          <span class="spacer" />
          <div class="tabs" role="tablist" aria-label="Playground mode">
            <For each={MODES}>
              {(m) => (
                <button
                  type="button"
                  role="tab"
                  class="tab"
                  classList={{ active: mode() === m.id }}
                  aria-selected={mode() === m.id}
                  data-testid={`pg-mode-${m.id}`}
                  onClick={() => switchMode(m.id)}
                >
                  {m.label}
                </button>
              )}
            </For>
          </div>
        </div>
        <Show
          when={info()}
          fallback={
            <p class="small muted empty">
              <Show
                when={loaded() && !models().length && !modelsError()}
                fallback={wanted() ? `Waiting for ${wanted()} to be listed…` : ''}
              >
                No models yet. Train one on the <a href="#/train">Train page</a> — each checkpoint it writes
                appears here — or import a model folder below.
              </Show>
            </p>
          }
        >
          {(m) => <ModelFacts model={m()} onChanged={() => void refresh()} />}
        </Show>
        <ImportModel
          onImported={(name) => {
            void refresh();
            pick(name);
          }}
        />
      </div>

      <div class="pg-grid" classList={{ wide: mode() === 'compare' }}>
        <div class="pg-main">
          <div hidden={mode() !== 'chat'}>
            <Chat
              model={model()}
              params={params}
              paramsError={paramsError()}
              maxTokens={Math.min(settings.maxTokens, info()?.context ?? settings.maxTokens)}
              active={mode() === 'chat'}
              inspectedId={inspected()?.gen.id}
              onInspect={inspect}
              onModel={(name) => models().some((m) => m.name === name) && pick(name)}
            />
          </div>
          <Show when={visited().has('complete')}>
            <div hidden={mode() !== 'complete'}>
              <Complete
                model={model()}
                params={params}
                paramsError={paramsError()}
                maxTokens={Math.min(settings.maxTokens, info()?.context ?? settings.maxTokens)}
                active={mode() === 'complete'}
                onInspect={inspect}
              />
            </div>
          </Show>
          <Show when={visited().has('compare')}>
            <div hidden={mode() !== 'compare'}>
              <Compare
                models={models()}
                model={model()}
                settings={settings}
                pair={pair()}
                inspectedId={inspected()?.gen.id}
                onInspect={inspect}
              />
            </div>
          </Show>
          <Inspector gen={inspected()?.gen} title={inspected()?.title ?? ''} token={inspected()?.token} />
        </div>
        <Show when={mode() !== 'compare'}>
          <aside class="card pg-settings">
            <div class="card-head">
              <h2>Sampling</h2>
              <span class="small muted">how the next token is picked</span>
            </div>
            <SamplingControls settings={settings} set={setSettings} context={info()?.context} />
          </aside>
        </Show>
      </div>
    </div>
  );
}
