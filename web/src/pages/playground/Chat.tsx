import { createEffect, createSignal, For, on, onCleanup, Show } from 'solid-js';
import { type ChatMessage, type Conversation, errorText, inferApi, type SamplingParams } from '../../api.ts';
import Conversations from './Conversations.tsx';
import { type Generation, startGeneration } from './generation.ts';
import { createPreflight } from './hooks.ts';
import Preflight from './Preflight.tsx';
import PromptLibrary from './PromptLibrary.tsx';

interface Turn {
  role: 'user' | 'assistant';
  /** User turns and stored assistant turns; a live assistant turn reads its generation instead. */
  content: string;
  gen?: Generation;
}

const turnText = (t: Turn) => (t.gen ? (t.gen.state.samples[0]?.text ?? '') : t.content);

function Bubble(props: { turn: Turn; inspected: boolean; onInspect: () => void }) {
  const g = () => props.turn.gen;
  const status = () => g()?.state.status;
  return (
    <div
      class="msg"
      classList={{ [props.turn.role]: true, inspected: props.inspected, live: !!g() }}
      data-role={props.turn.role}
      data-status={status() ?? 'stored'}
    >
      <div class="msg-role">
        {props.turn.role === 'user' ? 'You' : (g()?.state.model ?? 'Model')}
        <Show when={g()}>
          <button type="button" class="link msg-inspect" onClick={() => props.onInspect()}>
            {props.inspected ? 'inspected below' : 'inspect tokens'}
          </button>
        </Show>
      </div>
      <div class="msg-text" data-testid={props.turn.role === 'assistant' ? 'assistant-text' : undefined}>
        {turnText(props.turn)}
        <Show when={status() === 'running'}>
          <span class="cursor" aria-hidden="true" />
        </Show>
      </div>
      <Show when={status() === 'stopped'}>
        <div class="msg-note">stopped</div>
      </Show>
    </div>
  );
}

/**
 * The chat: a system prompt (with the saved-prompt library), the transcript with streaming answers, the composer
 * with its live preflight, and the stored conversations.
 */
export default function Chat(props: {
  model: string;
  params: () => SamplingParams;
  paramsError?: string;
  maxTokens: number;
  active: boolean;
  inspectedId?: number;
  onInspect: (gen: Generation, title: string) => void;
  onModel: (name: string) => void;
}) {
  const [turns, setTurns] = createSignal<Turn[]>([]);
  const [system, setSystem] = createSignal('');
  const [draft, setDraft] = createSignal('');
  const [conversationId, setConversationId] = createSignal<string>();
  const [ephemeral, setEphemeral] = createSignal(false);
  const [running, setRunning] = createSignal<Generation>();
  const [error, setError] = createSignal<string>();
  const [conversations, setConversations] = createSignal<Conversation[]>([]);
  const [convError, setConvError] = createSignal<string>();
  let transcript!: HTMLDivElement;
  let input!: HTMLTextAreaElement;

  const loadConversations = async () => {
    try {
      setConversations((await inferApi.conversations()).conversations ?? []);
      setConvError(undefined);
    } catch (err) {
      setConvError(errorText(err));
    }
  };
  void loadConversations();

  const history = (): ChatMessage[] => [
    ...(system().trim() ? [{ role: 'system' as const, content: system() }] : []),
    ...turns()
      .filter((t) => turnText(t) !== '' || t.role === 'user')
      .map((t) => ({ role: t.role, content: turnText(t) })),
  ];

  const preflight = createPreflight(() => {
    if (!props.active || !props.model || running()) return undefined;
    const messages = [...history(), ...(draft().trim() ? [{ role: 'user' as const, content: draft() }] : [])];
    if (!messages.length) return undefined;
    let params: SamplingParams | undefined;
    try {
      params = props.params();
    } catch {
      params = undefined;
    }
    return { model: props.model, messages, params };
  });

  // Keep the newest text in view while it streams, unless the learner scrolled up to read.
  let stick = true;
  const onScroll = () => {
    stick = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 40;
  };
  createEffect(
    on(
      () => {
        const last = turns().at(-1);
        return last ? turnText(last).length + turns().length : 0;
      },
      () => {
        if (stick) transcript.scrollTop = transcript.scrollHeight;
      },
    ),
  );

  const send = async () => {
    const content = draft().trim();
    if (!content || running() || !props.model) return;
    let params: SamplingParams;
    try {
      params = props.params();
    } catch (err) {
      setError(errorText(err));
      return;
    }
    setError(undefined);
    const messages: ChatMessage[] = [...history(), { role: 'user', content }];
    const model = props.model;
    const gen = startGeneration(model, (signal) =>
      inferApi.chat(
        {
          model,
          messages,
          params,
          ...(conversationId() ? { conversationId: conversationId() } : {}),
          ...(ephemeral() ? { ephemeral: true } : {}),
        },
        signal,
      ),
    );
    setDraft('');
    stick = true;
    setTurns((t) => [...t, { role: 'user', content }, { role: 'assistant', content: '', gen }]);
    setRunning(gen);
    props.onInspect(gen, `answer to “${content.slice(0, 40)}${content.length > 40 ? '…' : ''}”`);
    await gen.finished;
    setRunning(undefined);
    if (gen.state.status === 'error') {
      // The failed exchange leaves the transcript; the message goes back into the box to send again.
      setTurns((t) => t.filter((x) => x.gen !== gen).slice(0, -1));
      setDraft(content);
      setError(gen.state.error);
      return;
    }
    if (gen.state.conversationId && !ephemeral()) setConversationId(gen.state.conversationId);
    void loadConversations();
    input?.focus();
  };

  const stop = () => running()?.stop();
  onCleanup(stop);

  const open = async (id: string) => {
    try {
      const conv = await inferApi.conversation(id);
      stop();
      const msgs = conv.messages ?? [];
      const sys = msgs[0]?.role === 'system' ? msgs[0].content : '';
      setSystem(sys);
      setTurns(
        msgs
          .filter((m) => m.role === 'user' || m.role === 'assistant')
          .map((m) => ({ role: m.role as Turn['role'], content: m.content })),
      );
      setConversationId(conv.id);
      if (conv.model) props.onModel(conv.model);
      setError(undefined);
    } catch (err) {
      setError(errorText(err));
    }
  };
  const reset = () => {
    stop();
    setTurns([]);
    setConversationId(undefined);
    setError(undefined);
  };

  return (
    <div class="card chat" data-testid="chat">
      <div class="card-head">
        <h2>Chat</h2>
        <span class="small muted">
          {conversationId() ? 'saved conversation' : ephemeral() ? 'not saved' : 'new conversation'}
        </span>
        <span class="spacer" />
        <label class="inline small" title="Do not store this exchange on the server">
          <input
            type="checkbox"
            checked={ephemeral()}
            onChange={(e) => setEphemeral(e.currentTarget.checked)}
          />
          don’t save
        </label>
      </div>
      <Conversations
        list={conversations()}
        error={convError()}
        currentId={conversationId()}
        onOpen={(id) => void open(id)}
        onNew={reset}
        onChanged={() => void loadConversations()}
        onDeleted={(id) => {
          if (id === conversationId()) reset();
          void loadConversations();
        }}
      />
      <details class="system-prompt" open={system() !== ''}>
        <summary class="small">
          System prompt
          {system().trim() ? `: ${system().slice(0, 60)}${system().length > 60 ? '…' : ''}` : ' (none)'}
        </summary>
        <textarea
          rows={2}
          data-testid="chat-system"
          placeholder="Instructions the model reads before the conversation, e.g. “You are a terse assistant.”"
          value={system()}
          onInput={(e) => setSystem(e.currentTarget.value)}
        />
        <PromptLibrary text={system()} onUse={setSystem} />
      </details>
      <div class="transcript" data-testid="chat-transcript" ref={transcript} onScroll={onScroll}>
        <For
          each={turns()}
          fallback={
            <p class="muted small empty">
              Say something. A small model trained on a few minutes of text will answer in its own style — it
              continues text rather than follows instructions.
            </p>
          }
        >
          {(t) => (
            <Bubble
              turn={t}
              inspected={!!t.gen && t.gen.id === props.inspectedId}
              onInspect={() => t.gen && props.onInspect(t.gen, 'a chat answer')}
            />
          )}
        </For>
      </div>
      <Show when={error() || props.paramsError}>
        <div class="banner error small" role="alert" data-testid="chat-error">
          {error() || props.paramsError}
        </div>
      </Show>
      <form
        class="composer"
        onSubmit={(e) => {
          e.preventDefault();
          void send();
        }}
      >
        <textarea
          ref={input}
          rows={2}
          data-testid="chat-input"
          placeholder={
            props.model ? 'Message (Enter to send, Shift+Enter for a new line)' : 'Pick a model first'
          }
          value={draft()}
          onInput={(e) => setDraft(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              void send();
            }
          }}
        />
        <Show
          when={running()}
          fallback={
            <button
              type="submit"
              class="btn primary"
              data-testid="chat-send"
              disabled={!props.model || !draft().trim() || !!props.paramsError}
            >
              Send
            </button>
          }
        >
          <button type="button" class="btn danger" data-testid="chat-stop" onClick={stop}>
            Stop
          </button>
        </Show>
      </form>
      <Preflight
        info={running()?.state.preflight ?? preflight.info()}
        loading={preflight.loading()}
        error={preflight.error()}
        maxTokens={props.maxTokens}
      />
    </div>
  );
}
