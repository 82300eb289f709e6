// The judge's instructions. They are the lab's own wording, shown on the Eval page and replaceable per run:
// `{question}`, `{answer}` (single grading) and `{answer_a}`, `{answer_b}` (pairwise) are filled in.
// The verdict formats ("Rating: [[7]]", "[[A]]") are the ones judges of this kind are commonly asked
// for, so the judge's reasoning can come first and the verdict is still found unambiguously.

export const SINGLE_PROMPT = `You are grading an AI assistant's answer to a user's question. Judge helpfulness, relevance, accuracy, depth and clarity. First explain your judgement in a few sentences, then give a rating from 1 to 10 on its own line, exactly in this form: "Rating: [[5]]".

[Question]
{question}

[Answer]
{answer}`;

export const PAIRWISE_PROMPT = `You are comparing two AI assistants' answers to a user's question. Judge which answer follows the user's instructions and answers the question better. The order of the answers must not influence you, nor their length. First explain your judgement in a few sentences, then give your verdict on its own line: "[[A]]" if assistant A is better, "[[B]]" if assistant B is better, "[[C]]" for a tie.

[Question]
{question}

[Assistant A]
{answer_a}

[Assistant B]
{answer_b}`;

export function fillPrompt(template: string, values: Record<string, string>): string {
  return template.replace(/\{(question|answer|answer_a|answer_b)\}/g, (m, key: string) => values[key] ?? m);
}

/** The last "[[N]]" rating (1–10) in the judge's text, or undefined. */
export function parseRating(text: string): number | undefined {
  const all = [...text.matchAll(/\[\[\s*(\d+(?:\.\d+)?)\s*\]\]/g)];
  const v = all.length ? Number(all[all.length - 1]![1]) : Number.NaN;
  return v >= 1 && v <= 10 ? v : undefined;
}

/** The last "[[A]]", "[[B]]" or "[[C]]" verdict in the judge's text, or undefined. */
export function parseVerdict(text: string): 'A' | 'B' | 'C' | undefined {
  const all = [...text.matchAll(/\[\[\s*([ABC])\s*\]\]/g)];
  return all.length ? (all[all.length - 1]![1] as 'A' | 'B' | 'C') : undefined;
}

/**
 * The judged model's points from the two orders of a pairwise comparison (it is A first, then B): 1 when
 * both favour it, 0 when both favour the baseline, ½ for ties and for a split that followed the position
 * rather than the answers; undefined when either verdict is missing.
 */
export function pairwiseWin(
  first: 'A' | 'B' | 'C' | undefined,
  second: 'A' | 'B' | 'C' | undefined,
): number | undefined {
  if (first === undefined || second === undefined) return undefined;
  const points = (v: 'A' | 'B' | 'C', modelIs: 'A' | 'B') => (v === 'C' ? 0.5 : v === modelIs ? 1 : 0);
  return (points(first, 'A') + points(second, 'B')) / 2;
}
