/** A minimal Server-Sent Events reader over fetch, for tests: collects events and waits for conditions. */
export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

export interface SseClient {
  events: SseEvent[];
  comments: string[];
  waitFor(pred: (events: SseEvent[]) => boolean, timeoutMs?: number): Promise<SseEvent[]>;
  close(): void;
}

/** One SSE block (the lines before a blank line): its event, if it carries data, and its comments. */
export function parseSseBlock(block: string): { event?: SseEvent; comments: string[] } {
  const ev: SseEvent = { data: '' };
  const data: string[] = [];
  const comments: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) comments.push(line.slice(1).trim());
    else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
    else if (line.startsWith('id:')) ev.id = line.slice(3).trim();
    else if (line.startsWith('event:')) ev.event = line.slice(6).trim();
  }
  if (!data.length) return { comments };
  ev.data = data.join('\n');
  return { event: ev, comments };
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const controller = new AbortController();
  const res = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: controller.signal,
  });
  if (!res.ok || !res.body) throw new Error(`SSE ${url} answered ${res.status}: ${await res.text()}`);
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const listeners = new Set<() => void>();
  void (async () => {
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let idx = buf.indexOf('\n\n');
        while (idx >= 0) {
          const block = buf.slice(0, idx);
          buf = buf.slice(idx + 2);
          const { event, comments: notes } = parseSseBlock(block);
          comments.push(...notes);
          if (event) events.push(event);
          for (const l of listeners) l();
          idx = buf.indexOf('\n\n');
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  return {
    events,
    comments,
    close: () => controller.abort(),
    waitFor: (pred, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (pred(events)) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve(events);
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`SSE condition not met in ${timeoutMs} ms; got ${events.length} events`));
        }, timeoutMs);
        listeners.add(check);
        check();
      }),
  };
}
