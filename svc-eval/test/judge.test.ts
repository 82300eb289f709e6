import { describe, expect, it } from 'vitest';
import {
  fillPrompt,
  PAIRWISE_PROMPT,
  pairwiseWin,
  parseRating,
  parseVerdict,
  SINGLE_PROMPT,
} from '../src/judge/prompts.ts';

describe('judge prompts and verdicts', () => {
  it('fills the placeholders and nothing else', () => {
    const p = fillPrompt(SINGLE_PROMPT, { question: 'Q?', answer: 'A {answer_b} {x}' });
    expect(p).toContain('[Question]\nQ?');
    expect(p).toContain('[Answer]\nA {answer_b} {x}');
    const pw = fillPrompt(PAIRWISE_PROMPT, { question: 'q', answer_a: 'ANSWER-ONE', answer_b: 'ANSWER-TWO' });
    expect(pw.indexOf('ANSWER-ONE')).toBeLessThan(pw.indexOf('ANSWER-TWO'));
    expect(pw).not.toMatch(/\{answer_[ab]\}/);
  });

  it('reads the last rating in range, after the reasoning', () => {
    expect(parseRating('The answer is fine. Rating: [[7]]')).toBe(7);
    expect(parseRating('Compared to [[3]] before… Rating: [[ 8.5 ]]')).toBe(8.5);
    expect(parseRating('Rating: [[11]]')).toBeUndefined();
    expect(parseRating('Rating: 7')).toBeUndefined();
    expect(parseVerdict('A is worse. [[B]]')).toBe('B');
    expect(parseVerdict('no verdict')).toBeUndefined();
  });

  it('cancels position bias: a judge that always picks the first answer gives a tie', () => {
    expect(pairwiseWin('A', 'B')).toBe(1);
    expect(pairwiseWin('B', 'A')).toBe(0);
    expect(pairwiseWin('A', 'A')).toBe(0.5);
    expect(pairwiseWin('C', 'B')).toBe(0.75);
    expect(pairwiseWin('A', undefined)).toBeUndefined();
  });
});
