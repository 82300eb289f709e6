import { createSignal, For, Show } from 'solid-js';
import { type Conversation, errorText, inferApi } from '../../api.ts';

function when(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString() : d.toLocaleDateString();
}

/** Saves the conversation as a JSON file through a temporary download link. */
async function exportJson(id: string): Promise<void> {
  const conv = await inferApi.conversation(id);
  const blob = new Blob([JSON.stringify(conv, null, 2)], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = `${(conv.title || conv.id).replace(/[^\w.-]+/g, '_').slice(0, 60)}.json`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function Row(props: {
  conv: Conversation;
  current: boolean;
  onOpen: () => void;
  onChanged: () => void;
  onDeleted: () => void;
}) {
  const [renaming, setRenaming] = createSignal(false);
  const [confirmDelete, setConfirmDelete] = createSignal(false);
  const [error, setError] = createSignal<string>();
  const run = async (fn: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await fn();
    } catch (err) {
      setError(errorText(err));
    }
  };
  const rename = (e: SubmitEvent) => {
    e.preventDefault();
    const title = new FormData(e.currentTarget as HTMLFormElement).get('title')?.toString().trim() ?? '';
    if (!title) return;
    void run(async () => {
      await inferApi.renameConversation(props.conv.id, title);
      setRenaming(false);
      props.onChanged();
    });
  };
  return (
    <li classList={{ selected: props.current }} data-conversation={props.conv.id}>
      <Show
        when={renaming()}
        fallback={
          <button type="button" class="link conv-title" onClick={() => props.onOpen()} title="Open">
            {props.conv.title || 'untitled'}
          </button>
        }
      >
        <form class="inline" onSubmit={rename}>
          <input name="title" value={props.conv.title} maxLength={200} aria-label="New title" />
          <button type="submit" class="btn small">
            Save
          </button>
          <button type="button" class="btn small" onClick={() => setRenaming(false)}>
            Cancel
          </button>
        </form>
      </Show>
      <span class="muted small conv-meta">
        {props.conv.model} · {when(props.conv.updatedAt)}
      </span>
      <span class="conv-actions">
        <button type="button" class="btn small" onClick={() => setRenaming(true)}>
          Rename
        </button>
        <button type="button" class="btn small" onClick={() => void run(() => exportJson(props.conv.id))}>
          Export
        </button>
        <Show
          when={confirmDelete()}
          fallback={
            <button type="button" class="btn small" onClick={() => setConfirmDelete(true)}>
              Delete
            </button>
          }
        >
          <button
            type="button"
            class="btn small danger"
            onClick={() =>
              void run(async () => {
                await inferApi.deleteConversation(props.conv.id);
                props.onDeleted();
              })
            }
          >
            Really delete
          </button>
        </Show>
      </span>
      <Show when={error()}>
        <span class="error-text small">{error()}</span>
      </Show>
    </li>
  );
}

/** Stored conversations: open one to continue it, rename, export as JSON, delete. */
export default function Conversations(props: {
  list: readonly Conversation[];
  error?: string;
  currentId?: string;
  onOpen: (id: string) => void;
  onNew: () => void;
  onChanged: () => void;
  onDeleted: (id: string) => void;
}) {
  return (
    <details class="conversations" data-testid="conversations">
      <summary class="small">
        Saved conversations ({props.list.length}){' '}
        <button
          type="button"
          class="btn small"
          onClick={(e) => {
            e.preventDefault();
            props.onNew();
          }}
        >
          New chat
        </button>
      </summary>
      <Show when={props.error}>
        <div class="banner error small">{props.error}</div>
      </Show>
      <ul class="conv-list">
        <For each={props.list} fallback={<li class="muted small">No saved conversations yet.</li>}>
          {(c) => (
            <Row
              conv={c}
              current={c.id === props.currentId}
              onOpen={() => props.onOpen(c.id)}
              onChanged={props.onChanged}
              onDeleted={() => props.onDeleted(c.id)}
            />
          )}
        </For>
      </ul>
    </details>
  );
}
