// One chat completion from an OpenAI-compatible endpoint: the lab's own /v1 by default, so a lab model can
// judge, or any other with its URL and key.
import { LabError } from '@lab/common';

export interface JudgeEndpoint {
  /** Base URL ending in /v1. */
  url: string;
  key?: string;
  model: string;
}

export async function judgeCompletion(
  ep: JudgeEndpoint,
  prompt: string,
  signal?: AbortSignal,
): Promise<string> {
  const url = `${ep.url.replace(/\/+$/, '')}/chat/completions`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(ep.key ? { authorization: `Bearer ${ep.key}` } : {}),
      },
      body: JSON.stringify({
        model: ep.model,
        messages: [{ role: 'user', content: prompt }],
        temperature: 0,
        max_tokens: 512,
      }),
      signal: signal ?? AbortSignal.timeout(300_000),
    });
  } catch (err) {
    if (signal?.aborted) throw new LabError('CANCELLED', 'cancelled', 'id');
    throw new LabError(
      'UNAVAILABLE',
      `judgeUrl: ${url} cannot be reached (${(err as Error).message})`,
      'judgeUrl',
    );
  }
  const body = await res.text();
  if (!res.ok)
    throw new LabError(
      'FAILED_PRECONDITION',
      `judgeUrl: ${url} answered HTTP ${res.status}: ${body.slice(0, 300)}`,
      'judgeUrl',
    );
  try {
    const json = JSON.parse(body) as { choices?: { message?: { content?: string } }[] };
    const content = json.choices?.[0]?.message?.content;
    if (typeof content !== 'string') throw new Error('no choices[0].message.content');
    return content;
  } catch (err) {
    throw new LabError(
      'FAILED_PRECONDITION',
      `judgeUrl: ${url} did not answer like an OpenAI chat completion (${(err as Error).message})`,
      'judgeUrl',
    );
  }
}
