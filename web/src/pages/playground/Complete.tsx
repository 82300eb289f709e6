import { createSignal, For, onCleanup, Show } from 'solid-js';
import { errorText, inferApi, type SamplingParams } from '../../api.ts';
import { type Generation, startGeneration } from './generation.ts';
import { createPreflight } from './hooks.ts';
import Preflight from './Preflight.tsx';

const STARTER = 'ROMEO:\n';

/**
 * Plain completion: the model continues the text as written, no chat template. This is what a pre-trained model
 * was trained to do, so it is where a small lab model sounds most like its data.
 */
export default function Complete(props: {
  model: string;
  params: () => SamplingParams;
  paramsError?: string;
  maxTokens: number;
  active: boolean;
  onInspect: (gen: Generation, title: string) => void;
}) {
  const [prompt, setPrompt] = createSignal(STARTER);
  const [gen, setGen] = createSignal<Generation>();
  /** The prompt the shown output continues (the box may have been edited since). */
  const [ranPrompt, setRanPrompt] = createSignal('');
  const [error, setError] = createSignal<string>();
  const running = () => gen()?.state.status === 'running';

  const preflight = createPreflight(() => {
    if (!props.active || !props.model || !prompt() || running()) return undefined;
    let params: SamplingParams | undefined;
    try {
      params = props.params();
    } catch {
      params = undefined;
    }
    return { model: props.model, prompt: prompt(), params };
  });

  const generate = async () => {
    if (running() || !props.model) return;
    let params: SamplingParams;
    try {
      params = props.params();
    } catch (err) {
      setError(errorText(err));
      return;
    }
    setError(undefined);
    const model = props.model;
    const text = prompt();
    const g = startGeneration(model, (signal) => inferApi.generate({ model, prompt: text, params }, signal));
    setGen(g);
    setRanPrompt(text);
    props.onInspect(g, 'the completion');
    await g.finished;
    if (g.state.status === 'error') setError(g.state.error);
  };
  onCleanup(() => gen()?.stop());

  return (
    <div class="card complete" data-testid="complete">
      <div class="card-head">
        <h2>Complete</h2>
        <span class="small muted">the model continues your text token by token, no chat template</span>
      </div>
      <textarea
        class="complete-prompt"
        rows={4}
        data-testid="complete-prompt"
        value={prompt()}
        onInput={(e) => setPrompt(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void generate();
        }}
      />
      <div class="form-actions">
        <Show
          when={running()}
          fallback={
            <button
              type="button"
              class="btn primary"
              data-testid="complete-run"
              disabled={!props.model || !prompt() || !!props.paramsError}
              onClick={() => void generate()}
            >
              Generate
            </button>
          }
        >
          <button type="button" class="btn danger" data-testid="complete-stop" onClick={() => gen()?.stop()}>
            Stop
          </button>
        </Show>
        <span class="small muted">Ctrl+Enter generates</span>
      </div>
      <Show when={error() || props.paramsError}>
        <div class="banner error small" role="alert">
          {error() || props.paramsError}
        </div>
      </Show>
      <Preflight
        info={gen()?.state.preflight && running() ? gen()?.state.preflight : preflight.info()}
        loading={preflight.loading()}
        error={preflight.error()}
        maxTokens={props.maxTokens}
      />
      <Show when={gen()}>
        {(g) => (
          <div class="samples">
            <For each={g().state.samples}>
              {(s, i) => (
                <div class="sample-out" data-testid="complete-output">
                  <Show when={g().state.samples.length > 1}>
                    <div class="small muted">sample {i() + 1}</div>
                  </Show>
                  <span class="prompt-echo">{ranPrompt()}</span>
                  <span>{s.text}</span>
                  <Show when={g().state.status === 'running' && !s.done}>
                    <span class="cursor" aria-hidden="true" />
                  </Show>
                </div>
              )}
            </For>
          </div>
        )}
      </Show>
    </div>
  );
}
