// Conversations to training rows with the model's chat template: every token of the rendered text is an
// input, but only the assistant's tokens are targets (the prompt, system and user turns are context, not
// something to imitate). An assistant turn's tokens are what its rendering adds after the prompt that
// asks for it (the template with add_generation_prompt), so the rule holds for any template that renders
// a conversation as the prompt followed by the answer.
import { LabError } from '@lab/common';
import { type Message, renderChat } from '@lab/svc-infer';
import type { Conversation, PreferencePair } from './examples.ts';

export interface ChatFormat {
  /** Jinja chat template; undefined uses the lab's default. */
  template?: string;
  bos?: string;
  /** End-of-turn text appended to each answer when the template does not write it itself (EOS). */
  eos?: string;
  /** Text → ids, encoding special tokens (the template's markers) as their ids. */
  encode(text: string): number[];
}

export interface Tokenized {
  ids: number[];
  /** 1 where the token is a target (an assistant's), 0 where it is context. */
  loss: Uint8Array;
}

const render = (m: readonly Message[], f: ChatFormat, prompt: boolean): string =>
  renderChat(m, f.template, { bos_token: f.bos, eos_token: f.eos }, prompt);

/** A conversation's ids with the assistant tokens marked; the EOS follows an answer the template leaves open. */
export function tokenizeConversation(conv: Conversation, f: ChatFormat): Tokenized {
  const ids: number[] = [];
  const loss: number[] = [];
  let consumed = 0;
  const push = (text: string, target: boolean): void => {
    if (!text) return;
    for (const id of f.encode(text)) {
      ids.push(id);
      loss.push(target ? 1 : 0);
    }
  };
  conv.messages.forEach((m, i) => {
    if (m.role !== 'assistant') return;
    const prompt = render(conv.messages.slice(0, i), f, true);
    const full = render(conv.messages.slice(0, i + 1), f, false);
    if (!full.startsWith(prompt) || !full.startsWith(render(conv.messages.slice(0, i), f, false)))
      throw new LabError(
        'INVALID_ARGUMENT',
        "The model's chat template does not render a conversation as its prompt followed by the answer, so the answer's tokens cannot be told apart.",
        'finetune.baseModel',
      );
    push(prompt.slice(consumed), false);
    let answer = full.slice(prompt.length);
    if (f.eos && !answer.includes(f.eos)) answer += f.eos;
    push(answer, true);
    consumed = full.length;
  });
  push(render(conv.messages, f, false).slice(consumed), false);
  return { ids, loss: Uint8Array.from(loss) };
}

/** A preference pair as two tokenized sequences sharing the prompt. */
export function tokenizePair(p: PreferencePair, f: ChatFormat): { chosen: Tokenized; rejected: Tokenized } {
  const one = (answer: string) =>
    tokenizeConversation({ messages: [...p.prompt, { role: 'assistant', content: answer }] }, f);
  return { chosen: one(p.chosen), rejected: one(p.rejected) };
}

export interface Row {
  /** Inputs, `seq` long (padded). */
  idx: number[];
  /** Next-token targets; −100 where the next token is context or padding. */
  targets: number[];
  /** Targets counted (answer tokens kept after truncation). */
  targetCount: number;
  /** Tokens cut off the end to fit `seq`. */
  truncated: number;
  /** Inputs that are the example's (the rest of the row is padding). */
  length: number;
  /** Packed rows: each input's position within its example, and which example of the row it is. */
  positions?: number[];
  segments?: number[];
}

/**
 * Examples packed greedily, in order, into rows of `seq` inputs: each keeps its own targets, positions restart
 * at 0 and a segment number tells the attention mask where one ends (see the engine's FinetuneParts.packed).
 */
export function packRows(rows: readonly Row[], seq: number, pad = 0): Row[] {
  const out: Row[] = [];
  let cur: Row | undefined;
  let at = 0;
  let segment = 0;
  for (const r of rows) {
    if (!cur || at + r.length > seq) {
      cur = {
        idx: new Array<number>(seq).fill(pad),
        targets: new Array<number>(seq).fill(-100),
        targetCount: 0,
        truncated: 0,
        length: 0,
        positions: new Array<number>(seq).fill(0),
        // Padding is a segment of its own, so no example attends to it.
        segments: new Array<number>(seq).fill(-1),
      };
      out.push(cur);
      at = 0;
      segment = 0;
    }
    for (let i = 0; i < r.length; i++) {
      cur.idx[at + i] = r.idx[i];
      cur.targets[at + i] = r.targets[i];
      cur.positions![at + i] = i;
      cur.segments![at + i] = segment;
    }
    cur.targetCount += r.targetCount;
    cur.truncated += r.truncated;
    at += r.length;
    cur.length = at;
    segment++;
  }
  return out;
}

/** One row of `seq` inputs: the example cut to seq + 1 tokens (what it loses is reported) and padded. */
export function toRow(t: Tokenized, seq: number, pad = 0): Row {
  const n = Math.min(t.ids.length, seq + 1);
  const idx = new Array<number>(seq).fill(pad);
  const targets = new Array<number>(seq).fill(-100);
  let targetCount = 0;
  for (let i = 0; i + 1 < n; i++) {
    idx[i] = t.ids[i];
    if (t.loss[i + 1]) {
      targets[i] = t.ids[i + 1];
      targetCount++;
    }
  }
  if (n === 1) idx[0] = t.ids[0];
  return { idx, targets, targetCount, truncated: t.ids.length - n, length: Math.max(1, n - 1) };
}
