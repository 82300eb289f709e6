// Measures what a user waits for and what the lab costs: seconds from start to all services healthy, and the
// resident memory of every process of the stack (NATS, five services, gateway) once idle.
import { readFileSync } from 'node:fs';
import { startStack } from '../src/stack.ts';

function rssKiB(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
  return m ? Number(m[1]) : 0;
}

const stack = await startStack({ ports: 'free', output: 'buffer' });
console.log(
  `all healthy after ${stack.readySeconds.toFixed(2)} s (bus: ${stack.natsUrl ? 'NATS' : 'in-process'})`,
);
await new Promise((r) => setTimeout(r, 2000));
let total = 0;
for (const [name, child] of stack.children) {
  const kib = rssKiB(child.pid!);
  total += kib;
  console.log(`${name.padEnd(9)} ${(kib / 1024).toFixed(1).padStart(7)} MiB`);
}
console.log(`${'total'.padEnd(9)} ${(total / 1024).toFixed(1).padStart(7)} MiB resident`);
await stack.stop();
