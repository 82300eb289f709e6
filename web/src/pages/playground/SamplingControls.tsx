import { For, Show } from 'solid-js';
import type { SetStoreFunction } from 'solid-js/store';
import { PRESETS, type Settings } from './settings.ts';

type KeysOf<T> = { [K in keyof Settings]: Settings[K] extends T ? K : never }[keyof Settings];

interface NumField {
  key: KeysOf<number>;
  label: string;
  min: number;
  max: number;
  step: number;
  hint: string;
  /** Sliders for the knobs a learner sweeps; plain boxes for counts. */
  slider?: boolean;
}

const SAMPLING: NumField[] = [
  {
    key: 'temperature',
    label: 'Temperature',
    min: 0,
    max: 2,
    step: 0.05,
    slider: true,
    hint: 'Divides the logits before softmax: below 1 sharpens toward the likeliest token, above 1 flattens; 0 = always the top token.',
  },
  {
    key: 'topK',
    label: 'Top-k',
    min: 0,
    max: 200,
    step: 1,
    hint: 'Keeps only the k most likely tokens and renormalises; 0 = off.',
  },
  {
    key: 'topP',
    label: 'Top-p',
    min: 0.01,
    max: 1,
    step: 0.01,
    slider: true,
    hint: 'Keeps the smallest set of likeliest tokens whose probabilities add up to p (nucleus sampling); 1 = off.',
  },
  {
    key: 'minP',
    label: 'Min-p',
    min: 0,
    max: 0.99,
    step: 0.01,
    slider: true,
    hint: 'Drops tokens less likely than min-p × the top token’s probability; 0 = off.',
  },
];

const PENALTIES: NumField[] = [
  {
    key: 'repetitionPenalty',
    label: 'Repetition penalty',
    min: 0.5,
    max: 2,
    step: 0.05,
    hint: 'Above 1 makes every token already in the prompt or answer less likely (below 1, more); 1 = off.',
  },
  {
    key: 'frequencyPenalty',
    label: 'Frequency penalty',
    min: -2,
    max: 2,
    step: 0.1,
    hint: 'Subtracts this from a token’s logit for each time it was already generated.',
  },
  {
    key: 'presencePenalty',
    label: 'Presence penalty',
    min: -2,
    max: 2,
    step: 0.1,
    hint: 'Subtracts this once from the logit of any token that already appeared in the answer.',
  },
];

const LENGTH: NumField[] = [
  {
    key: 'maxTokens',
    label: 'Max tokens',
    min: 1,
    max: 4096,
    step: 1,
    hint: 'The most new tokens to generate before stopping.',
  },
  {
    key: 'topLogprobs',
    label: 'Alternatives',
    min: 0,
    max: 20,
    step: 1,
    hint: 'How many of the most likely alternatives to return per token (the token view’s hover list).',
  },
];

const SEARCH: NumField[] = [
  {
    key: 'n',
    label: 'Samples',
    min: 1,
    max: 8,
    step: 1,
    hint: 'Independent continuations of the same prompt, to see how much sampling varies.',
  },
  {
    key: 'numBeams',
    label: 'Beams',
    min: 1,
    max: 8,
    step: 1,
    hint: 'Beam search keeps the best few partial answers by total log-probability instead of sampling; 1 = off.',
  },
  {
    key: 'lengthPenalty',
    label: 'Length penalty',
    min: 0,
    max: 3,
    step: 0.1,
    hint: 'Beam score = log-probability ÷ length^this: above 1 favours longer answers.',
  },
];

function NumberControl(props: {
  field: NumField;
  settings: Settings;
  set: SetStoreFunction<Settings>;
  disabled?: boolean;
}) {
  const f = props.field;
  const update = (raw: string) => {
    const v = Number(raw);
    if (raw !== '' && Number.isFinite(v)) props.set(f.key, Math.min(f.max, Math.max(f.min, v)));
  };
  return (
    <div class="knob" classList={{ disabled: props.disabled }}>
      <label class="knob-row">
        <span class="knob-label">{f.label}</span>
        <Show when={f.slider}>
          <input
            type="range"
            min={f.min}
            max={f.max}
            step={f.step}
            value={props.settings[f.key]}
            disabled={props.disabled}
            onInput={(e) => update(e.currentTarget.value)}
            aria-label={`${f.label} slider`}
          />
        </Show>
        <input
          type="number"
          class="knob-num"
          name={f.key}
          min={f.min}
          max={f.max}
          step={f.step}
          value={props.settings[f.key]}
          disabled={props.disabled}
          onChange={(e) => update(e.currentTarget.value)}
        />
      </label>
      <div class="knob-hint">{f.hint}</div>
    </div>
  );
}

function Check(props: {
  key: KeysOf<boolean>;
  label: string;
  hint: string;
  settings: Settings;
  set: SetStoreFunction<Settings>;
}) {
  return (
    <div class="knob">
      <label class="inline knob-row">
        <input
          type="checkbox"
          name={props.key}
          checked={props.settings[props.key]}
          onChange={(e) => props.set(props.key, e.currentTarget.checked)}
        />
        <span class="knob-label">{props.label}</span>
      </label>
      <div class="knob-hint">{props.hint}</div>
    </div>
  );
}

function Group(props: {
  title: string;
  fields: NumField[];
  settings: Settings;
  set: SetStoreFunction<Settings>;
  off?: (k: NumField['key']) => boolean;
}) {
  return (
    <fieldset class="knob-group">
      <legend>{props.title}</legend>
      <For each={props.fields}>
        {(f) => (
          <NumberControl field={f} settings={props.settings} set={props.set} disabled={props.off?.(f.key)} />
        )}
      </For>
    </fieldset>
  );
}

/**
 * Every decoding knob with a one-line explanation. `compact` (a side of a comparison) shows the sampling and
 * length knobs only.
 */
export default function SamplingControls(props: {
  settings: Settings;
  set: SetStoreFunction<Settings>;
  compact?: boolean;
  testId?: string;
  /** The chosen model's context: max tokens above it are asked for as the context. */
  context?: number;
}) {
  const beams = () => props.settings.numBeams > 1;
  return (
    <div class="knobs" data-testid={props.testId ?? 'pg-settings'}>
      <div class="presets">
        <For each={PRESETS}>
          {(p) => (
            <button type="button" class="btn small" title={p.hint} onClick={() => props.set(p.values)}>
              {p.name}
            </button>
          )}
        </For>
      </div>
      <Group
        title="Sampling"
        fields={SAMPLING}
        settings={props.settings}
        set={props.set}
        off={(k) => beams() && k !== 'temperature'}
      />
      <Show when={beams()}>
        <p class="knob-hint">Beam search picks by log-probability, so top-k, top-p and min-p do not apply.</p>
      </Show>
      <div class="knob">
        <label class="knob-row">
          <span class="knob-label">Seed</span>
          <input
            class="knob-num"
            name="seed"
            inputMode="numeric"
            placeholder="random"
            value={props.settings.seed}
            onChange={(e) => props.set('seed', e.currentTarget.value.trim())}
          />
        </label>
        <div class="knob-hint">
          The same seed and settings give the same text; empty = a new draw each time.
        </div>
      </div>
      <Group title="Length" fields={LENGTH} settings={props.settings} set={props.set} />
      <Show when={props.context && props.settings.maxTokens > props.context}>
        <p class="knob-hint warn-text">
          This model’s context is {props.context} tokens, prompt included: at most {props.context} are asked
          for.
        </p>
      </Show>
      <Show when={!props.compact}>
        <details class="more-knobs">
          <summary class="small">Penalties, stop strings, beam search, ending…</summary>
          <Group title="Penalties" fields={PENALTIES} settings={props.settings} set={props.set} />
          <div class="knob">
            <label class="knob-row">
              <span class="knob-label">Logit bias</span>
              <input
                name="logitBias"
                placeholder="198:-100, 262:2"
                value={props.settings.logitBias}
                onChange={(e) => props.set('logitBias', e.currentTarget.value)}
              />
            </label>
            <div class="knob-hint">
              Adds to chosen token ids’ logits (id:bias); −100 bans a token, +5 pushes it.
            </div>
          </div>
          <div class="knob">
            <label class="knob-row knob-top">
              <span class="knob-label">Stop strings</span>
              <textarea
                name="stop"
                rows={2}
                placeholder={'one per line, \\n = newline'}
                value={props.settings.stop}
                onChange={(e) => props.set('stop', e.currentTarget.value)}
              />
            </label>
            <div class="knob-hint">The answer ends just before any of these; they are never shown.</div>
          </div>
          <Group
            title="Search"
            fields={SEARCH}
            settings={props.settings}
            set={props.set}
            off={(k) => k === 'lengthPenalty' && !beams()}
          />
          <Show when={beams()}>
            <div class="knob">
              <label class="knob-row">
                <span class="knob-label">Early stopping</span>
                <select
                  name="earlyStopping"
                  value={props.settings.earlyStopping}
                  onChange={(e) =>
                    props.set('earlyStopping', e.currentTarget.value as Settings['earlyStopping'])
                  }
                >
                  <option value="false">false</option>
                  <option value="true">true</option>
                  <option value="never">never</option>
                </select>
              </label>
              <div class="knob-hint">
                true: stop once enough beams finish; false: once no better one is likely; never: run to the
                limit.
              </div>
            </div>
          </Show>
          <fieldset class="knob-group">
            <legend>Ending and inspection</legend>
            <Check
              key="stopAtEos"
              label="Stop at end-of-sequence"
              hint="End when the model emits its end token; off keeps it talking past it."
              settings={props.settings}
              set={props.set}
            />
            <Check
              key="truncate"
              label="Cut a long prompt"
              hint="If the prompt does not fit the context, drop its oldest tokens instead of refusing."
              settings={props.settings}
              set={props.set}
            />
            <Check
              key="trace"
              label="Trace the sampler"
              hint="Return the distribution after every sampler stage for each token (the sampler view)."
              settings={props.settings}
              set={props.set}
            />
            <Check
              key="echo"
              label="Score the prompt"
              hint="Also return how likely the model found each prompt token (shown in the preflight)."
              settings={props.settings}
              set={props.set}
            />
          </fieldset>
        </details>
      </Show>
    </div>
  );
}
