import { createSignal, For, Show } from 'solid-js';
import { errorText, inferApi, type ModelInfo } from '../../api.ts';

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${Math.max(1, Math.round(n / 1024))} KiB`;
}

/** The option text: checkpoints say their step and validation loss, which is what tells them apart. */
function optionLabel(m: ModelInfo): string {
  if (m.source === 'checkpoint') {
    const loss = m.valLoss ? ` · val loss ${m.valLoss.toFixed(3)}` : '';
    return `${m.name} (step ${m.step.toLocaleString()}${loss})`;
  }
  return `${m.name} (${m.architecture || m.family}, ${formatCount(m.parameters)})`;
}

/** A <select> of every model, imported ones and job checkpoints in separate groups. */
export function ModelSelect(props: {
  models: readonly ModelInfo[];
  value: string;
  onChange: (name: string) => void;
  testId?: string;
  /** A model asked for (by a link) that is not listed yet. */
  waitingFor?: string;
}) {
  const registered = () => props.models.filter((m) => m.source !== 'checkpoint');
  const checkpoints = () => props.models.filter((m) => m.source === 'checkpoint');
  return (
    <select
      data-testid={props.testId ?? 'pg-model'}
      value={props.value}
      onChange={(e) => props.onChange(e.currentTarget.value)}
      class="model-select"
      aria-label="Model"
    >
      <Show when={!props.models.some((m) => m.name === props.value)}>
        <option value={props.value}>
          {props.waitingFor
            ? `waiting for ${props.waitingFor}…`
            : props.models.length
              ? 'pick a model'
              : 'no models yet'}
        </option>
      </Show>
      <Show when={registered().length}>
        <optgroup label="Imported models">
          <For each={registered()}>
            {(m) => (
              <option value={m.name} selected={m.name === props.value}>
                {optionLabel(m)}
              </option>
            )}
          </For>
        </optgroup>
      </Show>
      <Show when={checkpoints().length}>
        <optgroup label="Your training checkpoints">
          <For each={checkpoints()}>
            {(m) => (
              <option value={m.name} selected={m.name === props.value}>
                {optionLabel(m)}
              </option>
            )}
          </For>
        </optgroup>
      </Show>
    </select>
  );
}

/** One line about the chosen model, with unload / remove. */
export function ModelFacts(props: { model: ModelInfo; onChanged: () => void }) {
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal<string>();
  const [confirming, setConfirming] = createSignal(false);
  const act = async (what: 'unload' | 'delete') => {
    setBusy(true);
    setError(undefined);
    try {
      if (what === 'unload') await inferApi.unloadModel(props.model.name);
      else await inferApi.deleteModel(props.model.name);
      props.onChanged();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
      setConfirming(false);
    }
  };
  const m = () => props.model;
  return (
    <div class="model-facts small" data-testid="pg-model-facts">
      <span>
        {m().family || 'model'}
        {m().architecture ? ` · ${m().architecture}` : ''} · {formatCount(m().parameters)} parameters ·
        context {m().context.toLocaleString()} tokens · vocabulary {m().vocabSize.toLocaleString()}
        {m().tokenizer ? ` (${m().tokenizer})` : ''} · {m().dtype}
        {' · '}
        {m().hasChatTemplate ? 'own chat template' : 'lab’s default chat template'}
      </span>
      <span
        class="pill"
        classList={{ 'status-serving': m().loaded }}
        title="Loaded models answer at once; others load on first use"
      >
        <span class="dot" />
        {m().loaded
          ? `in memory · ${formatBytes(m().memoryBytes)}`
          : `not loaded · needs ~${formatBytes(m().memoryBytes)}`}
      </span>
      <Show when={m().decoding}>
        <span title="The kernel each generated token's linear layers run on, and the threads it uses">
          decodes with {m().decoding}
        </span>
      </Show>
      <Show when={m().loaded}>
        <button type="button" class="btn small" disabled={busy()} onClick={() => void act('unload')}>
          Unload
        </button>
      </Show>
      <Show when={m().source !== 'checkpoint'}>
        <Show
          when={confirming()}
          fallback={
            <button type="button" class="btn small" disabled={busy()} onClick={() => setConfirming(true)}>
              Remove…
            </button>
          }
        >
          <button type="button" class="btn small danger" disabled={busy()} onClick={() => void act('delete')}>
            Remove from the list (files stay)
          </button>
          <button type="button" class="btn small" onClick={() => setConfirming(false)}>
            Keep
          </button>
        </Show>
      </Show>
      <Show when={error()}>
        <span class="error-text">{error()}</span>
      </Show>
    </div>
  );
}

/** Registers a model folder (a lab checkpoint or a Hugging Face download) under a name. */
export function ImportModel(props: { onImported: (name: string) => void }) {
  const [name, setName] = createSignal('');
  const [path, setPath] = createSignal('');
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal<string>();
  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const m = await inferApi.importModel({ name: name().trim(), path: path().trim() });
      setName('');
      setPath('');
      props.onImported(m.name);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <details class="import-model">
      <summary class="small">Import a model folder…</summary>
      <form class="inline-form" onSubmit={(e) => void submit(e)} data-testid="pg-import">
        <label>
          <span class="small">Name</span>
          <input
            value={name()}
            onInput={(e) => setName(e.currentTarget.value)}
            placeholder="gpt2-small"
            pattern="[A-Za-z0-9._\-]+"
            required
          />
        </label>
        <label>
          <span class="small">Folder on the server (config.json + *.safetensors)</span>
          <input
            value={path()}
            onInput={(e) => setPath(e.currentTarget.value)}
            placeholder="/home/me/models/gpt2"
            required
          />
        </label>
        <button type="submit" class="btn" disabled={busy()}>
          {busy() ? 'Checking it loads…' : 'Import'}
        </button>
      </form>
      <Show when={error()}>
        <div class="banner error small">{error()}</div>
      </Show>
    </details>
  );
}
