import { For, Show } from 'solid-js';
import type { PreflightInfo } from '../../api.ts';
import { pct } from './generation.ts';

/**
 * Prompt preflight: the exact text the model will read after the chat template, token by token with the special
 * tokens marked, how much of the context it takes, and what would be cut to make it fit.
 */
export default function Preflight(props: {
  info?: PreflightInfo;
  loading: boolean;
  error?: string;
  maxTokens: number;
}) {
  const used = () => props.info?.promptTokens ?? 0;
  const context = () => props.info?.context ?? 0;
  const wanted = () => Math.min(props.maxTokens, props.info?.available ?? 0);
  const share = (n: number) => (context() ? `${Math.min(100, (100 * n) / context())}%` : '0%');

  return (
    <details
      class="preflight"
      data-testid="preflight"
      data-state={props.error ? 'error' : props.loading ? 'loading' : props.info ? 'ready' : 'empty'}
      data-tokens={used()}
    >
      <summary>
        <strong>Prompt preflight</strong>{' '}
        <Show
          when={props.info}
          fallback={
            <span class="muted small">
              {props.loading
                ? 'measuring…'
                : props.error
                  ? 'unavailable'
                  : 'type a message to see the exact prompt'}
            </span>
          }
        >
          {(i) => (
            <span class="small">
              <span data-testid="preflight-count">{i().promptTokens.toLocaleString()}</span> of{' '}
              {i().context.toLocaleString()} context tokens (
              {pct(i().context ? i().promptTokens / i().context : 0)}) · {i().available.toLocaleString()} left
              for the answer
              <Show when={i().truncatedTokens}>
                {' '}
                · <span class="warn-text">{i().truncatedTokens.toLocaleString()} cut</span>
              </Show>
              <Show when={i().problem}>
                {' '}
                · <span class="error-text">cannot run</span>
              </Show>
              {props.loading ? ' · updating…' : ''}
            </span>
          )}
        </Show>
      </summary>
      <Show when={props.error}>
        <div class="banner error small">{props.error}</div>
      </Show>
      <Show when={props.info}>
        {(i) => (
          <div class="preflight-body">
            <div
              class="ctx-bar"
              title="prompt · room the answer may use (max tokens) · unused context"
              role="img"
              aria-label={`${i().promptTokens} prompt tokens of a ${i().context}-token context`}
            >
              <span class="ctx-prompt" style={{ width: share(used()) }} />
              <span class="ctx-answer" style={{ width: share(wanted()) }} />
            </div>
            <div class="small muted ctx-key">
              <span class="key ctx-prompt" /> prompt <span class="key ctx-answer" /> answer (up to max tokens){' '}
              <span class="key ctx-free" /> unused
              <Show when={i().template}>
                {' '}
                · chat template:{' '}
                {i().template === 'model' ? 'the model’s own' : 'the lab’s default (the model has none)'}
              </Show>
            </div>
            <Show when={i().problem}>
              <div class="banner error small">{i().problem}</div>
            </Show>
            <Show when={i().truncatedTokens}>
              <div class="banner warn small">
                The first {i().truncatedTokens.toLocaleString()} tokens do not fit and would be cut:{' '}
                <span class="mono cut-text">{i().truncatedText}</span>
                <div class="small">
                  The cut leaves room for the answer (max tokens): a smaller max tokens keeps more of the
                  prompt.
                </div>
              </div>
            </Show>
            <div class="small muted">
              What the model reads, token by token (special tokens <span class="pf-special">boxed</span>):
            </div>
            <div class="pf-tokens" data-testid="preflight-tokens">
              <Show when={i().tokens.length} fallback={<span class="mono">{i().rendered}</span>}>
                <For each={i().tokens}>
                  {(t, n) => (
                    <span
                      classList={{ 'pf-special': t.special, 'pf-tok': !t.special, odd: n() % 2 === 1 }}
                      title={`id ${t.id}${t.logprob ? ` · p ${pct(Math.exp(t.logprob))}` : ''}`}
                    >
                      {t.special ? t.text : t.text.replace(/\n/g, '↵\n')}
                    </span>
                  )}
                </For>
              </Show>
            </div>
          </div>
        )}
      </Show>
    </details>
  );
}
