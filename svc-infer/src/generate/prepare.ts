// A request made concrete before anything runs: the prompt rendered (chat template) and tokenized, checked
// against the context, settings validated with errors naming the field. This is also the preflight answer.
import { LabError } from '@lab/common';
import type { PreflightInfo, PromptToken, SamplingParams } from '@lab/proto/infer';
import { DEFAULT_TEMPLATE_STOPS, type Message, renderChat, validateMessages } from '../chat/template.ts';
import type { LoadedModel } from '../models/pool.ts';

export const DEFAULT_MAX_TOKENS = 128;
/** Most new tokens one sample may ask for. */
export const MAX_NEW_TOKENS = 32_768;

export interface Prepared {
  /** Prompt ids after any truncation. */
  ids: number[];
  preflight: PreflightInfo;
  /** Stop strings: the request's, plus the default chat template's turn marker. */
  stops: string[];
  maxTokens: number;
}

/**
 * The bytes of a generated id, or undefined for ids the tokenizer has no text for: Hugging Face models often
 * have more rows in their embedding than their tokenizer has tokens (padding to a multiple of 64), and an
 * untrained model may well pick one.
 */
export function tokenBytes(model: LoadedModel, id: number): Uint8Array | undefined {
  const t = model.tokenizer;
  if (id >= t.vocabSize || t.isSpecial(id)) return undefined;
  try {
    return t.tokenToBytes(id);
  } catch {
    return undefined;
  }
}

/** The text of one token as a learner should see it: specials by name, others as their UTF-8 text. */
export function tokenText(model: LoadedModel, id: number): string {
  const t = model.tokenizer;
  if (id < t.vocabSize && t.isSpecial(id)) return t.tokenName(id);
  const bytes = tokenBytes(model, id);
  return bytes ? Buffer.from(bytes).toString('utf8') : `<id ${id}>`;
}

function encodePrompt(model: LoadedModel, text: string, field: string): number[] {
  try {
    // Special tokens written in the text (a chat template's <|im_start|>) are the model's specials.
    return model.tokenizer.encode(text, { allowedSpecial: 'all' });
  } catch (err) {
    throw new LabError('INVALID_ARGUMENT', `${field}: ${(err as Error).message}`, field);
  }
}

export function prepare(
  model: LoadedModel,
  req: { prompt?: string; messages?: readonly Message[]; params?: SamplingParams },
): Prepared {
  const params = req.params;
  const ctx = model.info.cfg.blockSize;
  const chat = !!req.messages?.length;
  let rendered: string;
  let ids: number[];
  // The request's stop strings were checked with the other settings (validateParams).
  const stops = [...(params?.stop ?? [])];
  if (chat) {
    validateMessages(req.messages!);
    rendered = renderChat(req.messages!, model.info.chatTemplate, {
      bos_token: model.bosToken,
      eos_token: model.eosToken,
    });
    if (!model.info.chatTemplate) stops.push(...DEFAULT_TEMPLATE_STOPS);
    ids = encodePrompt(model, rendered, 'messages');
  } else {
    rendered = req.prompt ?? '';
    if (!rendered)
      throw new LabError('INVALID_ARGUMENT', 'prompt: must not be empty (or give messages)', 'prompt');
    ids = encodePrompt(model, rendered, 'prompt');
    if (model.bosId !== undefined && ids[0] !== model.bosId) ids.unshift(model.bosId);
  }
  if (!ids.length) throw new LabError('INVALID_ARGUMENT', 'prompt: encodes to no tokens', 'prompt');

  // Unset: the default. Sampling runs past the context by sliding (see run.ts), so only a sanity bound.
  const maxTokens = params?.maxTokens || DEFAULT_MAX_TOKENS;
  if (maxTokens > MAX_NEW_TOKENS)
    throw new LabError(
      'INVALID_ARGUMENT',
      `params.maxTokens: at most ${MAX_NEW_TOKENS} (got ${maxTokens})`,
      'params.maxTokens',
    );
  let truncatedTokens = 0;
  let truncatedText = '';
  let problem = '';
  if (ids.length > ctx) {
    if (params?.truncate) {
      // Keep the end of the prompt and leave room for the answer: up to half the context.
      const keep = Math.max(1, ctx - Math.min(maxTokens, Math.floor(ctx / 2)));
      truncatedTokens = ids.length - keep;
      truncatedText = model.tokenizer.decode(ids.slice(0, truncatedTokens));
      ids = ids.slice(truncatedTokens);
    } else
      problem = `the prompt has ${ids.length} tokens and the model's context is ${ctx}: shorten it, or set truncate to cut it from the start`;
  }
  const tokens: PromptToken[] = ids.map((id) => ({
    id,
    text: tokenText(model, id),
    special: model.tokenizer.isSpecial(id),
    logprob: 0,
  }));
  return {
    ids,
    stops,
    maxTokens,
    preflight: {
      rendered,
      tokens,
      promptTokens: ids.length,
      context: ctx,
      available: Math.max(0, ctx - ids.length),
      truncatedTokens,
      truncatedText,
      template: chat ? (model.info.chatTemplate ? 'model' : 'default') : '',
      problem,
    },
  };
}
