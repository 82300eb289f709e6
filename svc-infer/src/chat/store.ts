// Conversations and saved prompts, in svc-infer's own lmdb database.
import { randomUUID } from 'node:crypto';
import { LabError, type Store } from '@lab/common';
import type { ChatMessage, Conversation, SavedPrompt } from '@lab/proto/infer';

const convKey = (id: string) => `conv:${id}`;
const promptKey = (name: string) => `prompt:${name}`;
const PROMPT_NAME = /^[^\0/]{1,100}$/;

function titleOf(messages: readonly ChatMessage[]): string {
  const first = messages.find((m) => m.role === 'user')?.content.trim() ?? 'Conversation';
  return first.length > 60 ? `${first.slice(0, 57)}…` : first || 'Conversation';
}

export class ChatStore {
  constructor(private readonly store: Store) {}

  listConversations(): Conversation[] {
    const out: Conversation[] = [];
    for (const { value } of this.store.getRange({ start: 'conv:', end: 'conv;' }))
      out.push({ ...(value as Conversation), messages: [] });
    return out.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  }

  getConversation(id: string): Conversation {
    const c = id ? (this.store.get(convKey(id)) as Conversation | undefined) : undefined;
    if (!c) throw new LabError('NOT_FOUND', `id: no conversation "${id}"`, 'id');
    return c;
  }

  /** Stores the messages of an exchange (the request's plus the answer) under `id`, or a new conversation. */
  async saveExchange(id: string, model: string, messages: readonly ChatMessage[]): Promise<Conversation> {
    const now = new Date().toISOString();
    const prev = id ? (this.store.get(convKey(id)) as Conversation | undefined) : undefined;
    const conv: Conversation = {
      id: prev?.id ?? (id || randomUUID()),
      title: prev?.title ?? titleOf(messages),
      model,
      messages: [...messages],
      createdAt: prev?.createdAt ?? now,
      updatedAt: now,
    };
    await this.store.put(convKey(conv.id), conv);
    return conv;
  }

  /** Checks a conversation id a chat request names: it must exist (new chats leave it empty). */
  requireConversation(id: string): void {
    if (id) this.getConversation(id);
  }

  async rename(id: string, title: string): Promise<Conversation> {
    const c = this.getConversation(id);
    const t = title.trim();
    if (!t || t.length > 200)
      throw new LabError('INVALID_ARGUMENT', 'title: must be 1-200 characters', 'title');
    const next = { ...c, title: t };
    await this.store.put(convKey(id), next);
    return next;
  }

  async deleteConversation(id: string): Promise<Conversation> {
    const c = this.getConversation(id);
    await this.store.remove(convKey(id));
    return c;
  }

  listPrompts(): SavedPrompt[] {
    const out: SavedPrompt[] = [];
    for (const { value } of this.store.getRange({ start: 'prompt:', end: 'prompt;' }))
      out.push(value as SavedPrompt);
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async savePrompt(p: SavedPrompt): Promise<SavedPrompt> {
    if (!PROMPT_NAME.test(p.name ?? ''))
      throw new LabError('INVALID_ARGUMENT', 'name: must be 1-100 characters, without "/"', 'name');
    if (p.kind !== 'system' && p.kind !== 'user')
      throw new LabError(
        'INVALID_ARGUMENT',
        `kind: must be "system" or "user" (got ${JSON.stringify(p.kind)})`,
        'kind',
      );
    if (!p.text) throw new LabError('INVALID_ARGUMENT', 'text: must not be empty', 'text');
    const saved: SavedPrompt = {
      name: p.name,
      kind: p.kind,
      text: p.text,
      updatedAt: new Date().toISOString(),
    };
    await this.store.put(promptKey(p.name), saved);
    return saved;
  }

  async deletePrompt(name: string): Promise<SavedPrompt> {
    const p = this.store.get(promptKey(name)) as SavedPrompt | undefined;
    if (!p) throw new LabError('NOT_FOUND', `name: no saved prompt "${name}"`, 'name');
    await this.store.remove(promptKey(name));
    return p;
  }
}
