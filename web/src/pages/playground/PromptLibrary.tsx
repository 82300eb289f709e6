import { createSignal, For, onMount, Show } from 'solid-js';
import { errorText, inferApi, type SavedPrompt } from '../../api.ts';

/**
 * The saved system prompts: pick one to use it, save the current text under a name, delete one. Stored by
 * svc-infer, so they survive reloads and are shared by every browser on this machine.
 */
export default function PromptLibrary(props: { text: string; onUse: (text: string) => void }) {
  const [prompts, setPrompts] = createSignal<SavedPrompt[]>([]);
  const [chosen, setChosen] = createSignal('');
  const [name, setName] = createSignal('');
  const [error, setError] = createSignal<string>();
  const system = () => prompts().filter((p) => p.kind === 'system');

  const load = async () => {
    try {
      setPrompts((await inferApi.prompts()).prompts ?? []);
      setError(undefined);
    } catch (err) {
      setError(errorText(err));
    }
  };
  onMount(() => void load());

  const run = async (fn: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await fn();
      await load();
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <div class="prompt-lib small" data-testid="prompt-library">
      <select
        value={chosen()}
        aria-label="Saved system prompts"
        onChange={(e) => {
          const p = system().find((x) => x.name === e.currentTarget.value);
          setChosen(e.currentTarget.value);
          if (p) {
            props.onUse(p.text);
            setName(p.name);
          }
        }}
      >
        <option value="">{system().length ? 'Saved prompts…' : 'No saved prompts'}</option>
        <For each={system()}>{(p) => <option value={p.name}>{p.name}</option>}</For>
      </select>
      <input
        placeholder="name"
        value={name()}
        onInput={(e) => setName(e.currentTarget.value)}
        aria-label="Name to save the system prompt under"
        class="narrow"
      />
      <button
        type="button"
        class="btn small"
        disabled={!name().trim() || !props.text.trim()}
        onClick={() =>
          void run(async () => {
            await inferApi.savePrompt(name().trim(), { kind: 'system', text: props.text });
            setChosen(name().trim());
          })
        }
      >
        Save
      </button>
      <Show when={chosen()}>
        <button
          type="button"
          class="btn small"
          onClick={() =>
            void run(async () => {
              await inferApi.deletePrompt(chosen());
              setChosen('');
            })
          }
        >
          Delete “{chosen()}”
        </button>
      </Show>
      <Show when={error()}>
        <span class="error-text">{error()}</span>
      </Show>
    </div>
  );
}
