// The preview of a fine-tune's examples as the job renders them: every token, the answer tokens (which carry
// the loss) highlighted, the tokens past the context struck through, and the end-of-turn check — whether
// each answer ends with a token generation stops on, without which a fine-tuned model never stops.
import { For, Show } from 'solid-js';
import type { EosCheck, FinetunePreview, PreviewSequence } from './api.ts';

/** Whitespace made visible, so a learner sees the newlines and spaces the template writes. */
const visible = (s: string) => s.replace(/\n/g, '↵\n').replace(/\t/g, '→');

const LOSS_STYLE = 'background:#ffe08a;color:#222;';
const CONTEXT_STYLE = 'color:inherit;';
const CUT_STYLE = 'text-decoration:line-through;opacity:0.45;';

function Tokens(props: { seq: PreviewSequence; label?: string }) {
  return (
    <div class="small">
      <Show when={props.label}>
        <div class="muted">{props.label}</div>
      </Show>
      <pre
        class="sample"
        data-testid="ft-preview-tokens"
        data-loss-tokens={props.seq.lossTokens}
        style="white-space:pre-wrap;word-break:break-all;"
      >
        <For each={props.seq.tokens}>
          {(t) => (
            <span
              data-loss={t.loss ? 'true' : 'false'}
              data-cut={t.truncated ? 'true' : undefined}
              title={`id ${t.id}${t.loss ? ' · carries loss' : ' · context (no loss)'}${t.truncated ? ' · cut off' : ''}`}
              style={`${t.loss ? LOSS_STYLE : CONTEXT_STYLE}${t.truncated ? CUT_STYLE : ''}border-right:1px solid rgba(127,127,127,0.25);`}
            >
              {visible(t.text)}
            </span>
          )}
        </For>
      </pre>
      <div class="muted">
        {props.seq.lossTokens.toLocaleString()} loss tokens
        <Show when={props.seq.truncatedTokens > 0}>
          {' '}
          · {props.seq.truncatedTokens.toLocaleString()} tokens cut off at the context
        </Show>
      </div>
    </div>
  );
}

const MARK: Record<EosCheck['status'], string> = { pass: '✓', warn: '⚠', info: 'ℹ' };

export function EosLine(props: { eos: EosCheck }) {
  return (
    <div
      class={`banner small ${props.eos.status === 'warn' ? 'error' : ''}`}
      role={props.eos.status === 'warn' ? 'alert' : 'status'}
      data-testid="ft-eos"
      data-status={props.eos.status}
    >
      <b>
        {MARK[props.eos.status]} End of turn {props.eos.status === 'pass' ? 'OK' : ''}
      </b>{' '}
      {props.eos.message}
      <Show when={props.eos.stopTokens.length}>
        <span class="muted">
          {' '}
          Generation stops on {props.eos.stopTokens.map((t) => JSON.stringify(t)).join(', ')} (ids{' '}
          {props.eos.stopIds.join(', ')}).
        </span>
      </Show>
    </div>
  );
}

export default function Preview(props: { preview: FinetunePreview }) {
  const p = () => props.preview;
  return (
    <div data-testid="ft-preview" data-method={p().method}>
      <p class="muted small">
        Rendered with{' '}
        {p().template === 'model'
          ? 'the model’s own chat template'
          : 'the default “User: … Assistant:” template'}{' '}
        at a context of {p().context.toLocaleString()} tokens. <span style={LOSS_STYLE}>Highlighted</span>{' '}
        tokens are the answer: the only ones the loss is computed on; the rest is context.{' '}
        <span style={CUT_STYLE}>Struck-through</span> tokens lie past the context and are cut off.
      </p>
      <p class="small" data-testid="ft-preview-truncation" data-truncated={p().truncatedExamples}>
        {p().totalExamples.toLocaleString()} {p().method !== 'sft' ? 'pairs' : 'examples'};{' '}
        {p().truncatedExamples
          ? `${p().truncatedExamples.toLocaleString()} longer than the context (${p().truncatedTokens.toLocaleString()} tokens cut off)`
          : 'none longer than the context'}
        <Show when={p().emptyExamples}>
          {' '}
          · {p().emptyExamples.toLocaleString()} keep no answer token and are skipped
        </Show>
        .
      </p>
      <EosLine eos={p().eos} />
      <For each={p().examples}>
        {(e) => (
          <div data-testid="ft-preview-example" data-index={e.index}>
            <h4 class="small">
              {p().method !== 'sft' ? 'Pair' : 'Example'} {e.index + 1}
            </h4>
            <Show when={e.rejected} fallback={<Tokens seq={e.sequence} />}>
              {(rejected) => (
                <div class="charts">
                  <div data-testid="ft-preview-chosen">
                    <Tokens seq={e.sequence} label="chosen" />
                  </div>
                  <div data-testid="ft-preview-rejected">
                    <Tokens seq={rejected()} label="rejected" />
                  </div>
                </div>
              )}
            </Show>
          </div>
        )}
      </For>
    </div>
  );
}
