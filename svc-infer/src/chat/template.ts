// Chat messages → one prompt string, through the model's own Jinja chat template (tokenizer_config.json)
// rendered by @huggingface/jinja, the renderer transformers.js uses; or the lab's default for models that
// have none (lab checkpoints, base models).

import { Template } from '@huggingface/jinja';
import { LabError } from '@lab/common';

export interface Message {
  role: string;
  content: string;
}

/**
 * The default template: plain "Role: text" paragraphs ending with "Assistant:". It uses only letters, ':'
 * and newlines, so it encodes with the character vocabulary of a model trained on ordinary prose (a
 * char-level Shakespeare model has no '<' or '|'), and a base model continues it like a script.
 */
export const DEFAULT_CHAT_TEMPLATE =
  '{% for m in messages %}{{ m.role | capitalize }}: {{ m.content }}\n\n{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}';

/** With the default template the next "User:" line ends the assistant's turn. */
export const DEFAULT_TEMPLATE_STOPS = ['\n\nUser:', '\nUser:'];

const ROLES = new Set(['system', 'user', 'assistant']);

export function validateMessages(messages: readonly Message[], field = 'messages'): void {
  if (!messages.length)
    throw new LabError('INVALID_ARGUMENT', `${field}: at least one message is required`, field);
  messages.forEach((m, i) => {
    if (!ROLES.has(m.role))
      throw new LabError(
        'INVALID_ARGUMENT',
        `${field}.${i}.role: must be system, user or assistant (got ${JSON.stringify(m.role)})`,
        `${field}.${i}.role`,
      );
    if (typeof m.content !== 'string')
      throw new LabError(
        'INVALID_ARGUMENT',
        `${field}.${i}.content: must be a string`,
        `${field}.${i}.content`,
      );
  });
}

const compiled = new Map<string, Template>();

/** Renders messages; `template` undefined means the default. Template errors name the template. */
export function renderChat(
  messages: readonly Message[],
  template: string | undefined,
  specials: { bos_token?: string; eos_token?: string },
  addGenerationPrompt = true,
): string {
  const source = template ?? DEFAULT_CHAT_TEMPLATE;
  let t = compiled.get(source);
  try {
    if (!t) {
      t = new Template(source);
      if (compiled.size > 32) compiled.clear();
      compiled.set(source, t);
    }
    return t.render({
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      add_generation_prompt: addGenerationPrompt,
      bos_token: specials.bos_token ?? '',
      eos_token: specials.eos_token ?? '',
    });
  } catch (err) {
    // Templates raise their own errors (e.g. "Conversation roles must alternate user/assistant").
    throw new LabError(
      'INVALID_ARGUMENT',
      `messages: the model's chat template refused them: ${(err as Error).message}`,
      'messages',
    );
  }
}
