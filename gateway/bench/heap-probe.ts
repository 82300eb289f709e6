// Asks a Node process, through its inspector (DevTools protocol over WebSocket), to collect garbage twice
// and report process.memoryUsage(); prints it as one JSON line. Runs as its own process because Node 20
// has a WebSocket client only behind --experimental-websocket:
//   node --experimental-websocket --import tsx gateway/bench/heap-probe.ts ws://127.0.0.1:PORT/ID
interface Reply {
  id?: number;
  result?: { result?: { value?: string } };
  error?: { message: string };
}
interface Socket {
  onopen: (() => void) | null;
  onerror: ((e: unknown) => void) | null;
  onmessage: ((m: { data: string }) => void) | null;
  send(data: string): void;
  close(): void;
}
const WS = (globalThis as unknown as { WebSocket?: new (url: string) => Socket }).WebSocket;
if (!WS) throw new Error('run with node --experimental-websocket');
const url = process.argv[2];
if (!url) throw new Error('usage: heap-probe.ts <inspector ws url>');

const ws = new WS(url);
const waiting = new Map<number, (r: Reply) => void>();
let next = 0;
ws.onmessage = (m) => {
  const r = JSON.parse(m.data) as Reply;
  if (r.id !== undefined) waiting.get(r.id)?.(r);
};
await new Promise<void>((resolve, reject) => {
  ws.onopen = () => resolve();
  ws.onerror = (e) => reject(new Error(`inspector ${url}: ${String(e)}`));
});
const call = (method: string, params: Record<string, unknown> = {}) =>
  new Promise<Reply>((resolve, reject) => {
    const id = ++next;
    waiting.set(id, (r) => (r.error ? reject(new Error(`${method}: ${r.error.message}`)) : resolve(r)));
    ws.send(JSON.stringify({ id, method, params }));
  });
// Twice: the first pass runs finalizers that free more on the second.
await call('HeapProfiler.collectGarbage');
await call('HeapProfiler.collectGarbage');
const r = await call('Runtime.evaluate', {
  expression: 'JSON.stringify(process.memoryUsage())',
  returnByValue: true,
});
process.stdout.write(`${r.result?.result?.value}\n`);
ws.close();
process.exit(0);
