// Fine-tuning examples as conversations, from the forms the lab meets them in: records of a JSON or JSONL
// file (Alpaca {instruction, input, output}; ShareGPT {conversations: [{from, value}]}; ChatML {messages:
// [{role, content}]}; preference pairs {prompt, chosen, rejected} or Anthropic HH's {chosen, rejected}
// transcripts), and svc-data documents, which hold those records rendered as text (ingest.ts).
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { Message } from '@lab/svc-infer';
import { fieldError } from '../jobs/field-error.ts';

export interface Conversation {
  messages: Message[];
}

/** A preference pair: one prompt conversation, two candidate answers. */
export interface PreferencePair {
  prompt: Message[];
  chosen: string;
  rejected: string;
}

type Rec = Record<string, unknown>;
const ROLE: Record<string, Message['role']> = {
  human: 'user',
  user: 'user',
  gpt: 'assistant',
  assistant: 'assistant',
  bot: 'assistant',
  model: 'assistant',
  system: 'system',
};

/** The records of a .json (array) or .jsonl file, optionally gzipped. */
export function readRecords(path: string, field: string): Rec[] {
  let text: string;
  try {
    const raw = readFileSync(path);
    text = (path.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
  } catch (err) {
    throw fieldError(field, `The data file ${path} cannot be read (${(err as Error).message}).`);
  }
  const trimmed = text.trimStart();
  if (trimmed.startsWith('[')) {
    try {
      return JSON.parse(trimmed) as Rec[];
    } catch (err) {
      throw fieldError(field, `The data file ${path} is not valid JSON (${(err as Error).message}).`);
    }
  }
  const out: Rec[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      out.push(JSON.parse(line) as Rec);
    } catch {
      throw fieldError(field, `Line ${i + 1} of ${path} is not a JSON object.`);
    }
  });
  return out;
}

function turns(list: unknown): Message[] | undefined {
  if (!Array.isArray(list) || !list.length) return undefined;
  const out: Message[] = [];
  for (const t of list as Rec[]) {
    const role = ROLE[String(t?.role ?? t?.from ?? '').toLowerCase()];
    const content = t?.content ?? t?.value;
    if (!role || typeof content !== 'string') return undefined;
    out.push({ role, content });
  }
  return out;
}

/** An instruction record as a conversation, or undefined when it has none of the known shapes. */
export function conversationOf(r: Rec): Conversation | undefined {
  if (typeof r.instruction === 'string' && typeof r.output === 'string') {
    const input = typeof r.input === 'string' && r.input.trim() ? `\n\n${r.input}` : '';
    return {
      messages: [
        { role: 'user', content: `${r.instruction}${input}` },
        { role: 'assistant', content: r.output },
      ],
    };
  }
  const m = turns(r.messages) ?? turns(r.conversations);
  return m ? { messages: m } : undefined;
}

/**
 * A svc-data document back to a conversation: "### Instruction: … ### Response: …" (an Alpaca record) or
 * ChatML turns (`<|im_start|>role\ncontent<|im_end|>`).
 */
export function conversationOfDocument(text: string): Conversation | undefined {
  const alpaca =
    /^### Instruction:\n([\s\S]*?)(?:\n\n### Input:\n([\s\S]*?))?\n\n### Response:\n([\s\S]*)$/.exec(text);
  if (alpaca) return conversationOf({ instruction: alpaca[1], input: alpaca[2] ?? '', output: alpaca[3] });
  const messages: Message[] = [];
  for (const m of text.matchAll(/<\|im_start\|>(\w+)\n([\s\S]*?)<\|im_end\|>/g)) {
    const role = ROLE[m[1].toLowerCase()];
    if (!role) return undefined;
    messages.push({ role, content: m[2] });
  }
  return messages.length ? { messages } : undefined;
}

/** Anthropic HH's transcript ("\n\nHuman: …\n\nAssistant: …") as turns. */
function transcript(text: string): Message[] | undefined {
  const parts = text.split(/\n\n(Human|Assistant): /).slice(1);
  if (parts.length < 2) return undefined;
  const out: Message[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2)
    out.push({ role: parts[i] === 'Human' ? 'user' : 'assistant', content: parts[i + 1] });
  return out;
}

/** A preference record: {prompt, chosen, rejected} strings, or HH's two transcripts sharing all but the last answer. */
export function preferenceOf(r: Rec): PreferencePair | undefined {
  if (typeof r.chosen !== 'string' || typeof r.rejected !== 'string') return undefined;
  if (typeof r.prompt === 'string')
    return { prompt: [{ role: 'user', content: r.prompt }], chosen: r.chosen, rejected: r.rejected };
  const c = transcript(r.chosen);
  const j = transcript(r.rejected);
  if (!c || !j || c.at(-1)?.role !== 'assistant' || j.at(-1)?.role !== 'assistant') return undefined;
  const prompt = c.slice(0, -1);
  if (JSON.stringify(prompt) !== JSON.stringify(j.slice(0, -1))) return undefined;
  return { prompt, chosen: c.at(-1)!.content, rejected: j.at(-1)!.content };
}

/** Conversations of records, or a clear error naming the first record without the needed fields. */
export function conversationsOf(records: readonly Rec[], field: string): Conversation[] {
  return records.map((r, i) => {
    const c = typeof r.text === 'string' ? conversationOfDocument(r.text) : conversationOf(r);
    if (!c)
      throw fieldError(
        field,
        `Example ${i + 1} is not an instruction example: SFT needs Alpaca (instruction, output), ShareGPT (conversations) or ChatML (messages) records; it has ${Object.keys(r).slice(0, 8).join(', ') || 'no fields'}.`,
      );
    if (!c.messages.some((m) => m.role === 'assistant'))
      throw fieldError(field, `Example ${i + 1} has no assistant turn to learn from.`);
    return c;
  });
}

export function preferencesOf(records: readonly Rec[], field: string): PreferencePair[] {
  return records.map((r, i) => {
    const p = preferenceOf(r);
    if (!p)
      throw fieldError(
        field,
        `Example ${i + 1} is not a preference pair: DPO needs prompt, chosen and rejected (or HH transcripts chosen/rejected); it has ${Object.keys(r).slice(0, 8).join(', ') || 'no fields'}.`,
      );
    return p;
  });
}
