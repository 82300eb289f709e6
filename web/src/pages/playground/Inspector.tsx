import { createEffect, createSignal, For, on, Show } from 'solid-js';
import BeamTree from './BeamTree.tsx';
import type { Generation, Sample } from './generation.ts';
import SamplerView from './SamplerView.tsx';
import TokenView, { ProbLegend } from './TokenView.tsx';

/** Time to first token, speed and why it ended, for one sample. */
function SampleStats(props: { sample: Sample; gen: Generation }) {
  const live = () => {
    const s = props.gen.state;
    if (!s.firstTokenAt) return undefined;
    const secs = (performance.now() - s.firstTokenAt) / 1000;
    return secs > 0.2 ? props.sample.tokens.length / secs : undefined;
  };
  return (
    <div class="small muted gen-stats" data-testid="gen-stats">
      <Show
        when={props.sample.done}
        fallback={
          <>
            {props.sample.tokens.length} tokens
            {props.gen.state.status === 'running' ? ' · generating…' : ` · ${props.gen.state.status}`}
            <Show when={live()}>{(r) => ` · ~${r().toFixed(1)} tokens/s`}</Show>
          </>
        }
      >
        {(d) => (
          <>
            {d().completionTokens.toLocaleString()} tokens after a {d().promptTokens.toLocaleString()}-token
            prompt · first token in {Math.round(d().firstTokenMs).toLocaleString()} ms ·{' '}
            {d().tokensPerSecond.toFixed(1)} tokens/s · ended:{' '}
            <span data-testid="finish-reason">{d().finishReason}</span>
            {d().finishReason === 'stop' && d().stop ? ` (stop string ${JSON.stringify(d().stop)})` : ''}
          </>
        )}
      </Show>
    </div>
  );
}

/**
 * What the model did for one generation: its tokens coloured by probability (hover for alternatives), the
 * sampler chain for a picked token, and the beam-search tree when beams were used.
 */
export default function Inspector(props: { gen?: Generation; title: string; token?: number }) {
  const [sampleIndex, setSampleIndex] = createSignal(0);
  /** Undefined: follow the newest token while it streams. */
  const [picked, setPicked] = createSignal<number>();

  createEffect(
    on(
      () => props.gen?.id,
      () => setSampleIndex(0),
    ),
  );
  // A token picked elsewhere (a side of the comparison) opens here in the sampler view.
  createEffect(
    on(
      () => [props.gen?.id, props.token] as const,
      ([, token]) => setPicked(token),
    ),
  );

  const sample = () => props.gen?.state.samples[sampleIndex()];
  const tokenIndex = () => {
    const p = picked();
    if (p !== undefined) return p;
    const n = sample()?.tokens.length ?? 0;
    return n ? n - 1 : undefined;
  };
  const token = () => {
    const i = tokenIndex();
    return i === undefined ? undefined : sample()?.tokens[i];
  };

  return (
    <div class="card inspector" data-testid="inspector">
      <div class="card-head">
        <h2>Inside the generation</h2>
        <span class="small muted">{props.title}</span>
        <Show when={(props.gen?.state.samples.length ?? 0) > 1}>
          <span class="tabs small">
            <For each={props.gen?.state.samples ?? []}>
              {(_, i) => (
                <button
                  type="button"
                  class="tab"
                  classList={{ active: sampleIndex() === i() }}
                  onClick={() => {
                    setSampleIndex(i());
                    setPicked(undefined);
                  }}
                >
                  sample {i() + 1}
                </button>
              )}
            </For>
          </span>
        </Show>
      </div>
      <Show
        when={props.gen}
        fallback={
          <p class="muted small empty">
            Send a message or generate a completion: each token it produces shows up here, coloured by how
            likely the model thought it was.
          </p>
        }
      >
        {(g) => (
          <>
            <Show when={sample()}>
              {(s) => (
                <>
                  <SampleStats sample={s()} gen={g()} />
                  <Show
                    when={s().tokens.length}
                    fallback={
                      <p class="muted small empty">
                        {g().state.status === 'running'
                          ? 'Waiting for the first token (the model may be loading)…'
                          : g().state.tree.length
                            ? 'Beam search returns its answer at the end: see the tree below.'
                            : 'No tokens.'}
                      </p>
                    }
                  >
                    <TokenView
                      tokens={s().tokens}
                      selected={tokenIndex()}
                      onSelect={setPicked}
                      shownChars={s().text.length}
                      ended={g().state.status !== 'running'}
                    />
                    <ProbLegend />
                  </Show>
                </>
              )}
            </Show>
            <Show when={sample()?.tokens.length || !g().state.tree.length}>
              <SamplerView
                token={token()}
                following={picked() === undefined}
                onFollow={() => setPicked(undefined)}
              />
            </Show>
            <Show when={g().state.tree.length || g().state.beams.length}>
              <BeamTree tree={g().state.tree} beams={g().state.beams} />
            </Show>
          </>
        )}
      </Show>
    </div>
  );
}
