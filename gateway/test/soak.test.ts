// The soak at CI size (gateway/bench/soak.ts has the whole procedure; `npm run soak` runs it at 100 clients
// × 60 s): 20 SSE clients follow one training job on its own stream and on /api/events while nats-server
// is killed with SIGKILL and restarted mid-run, against the whole lab started as processes.
import { describe, expect, it } from 'vitest';
import { runSoak } from '../bench/soak.ts';

describe('soak: SSE clients through a NATS restart', () => {
  it('gives 20 clients every event of a running job exactly once, in order, on both streams, and the gateway its memory back', async () => {
    const report = await runSoak({ clients: 20, seconds: 15 });
    expect(report.failures).toEqual([]);
    // The restart happened mid-run, and events were published while NATS was down and after it came back.
    expect(report.killedAtStep).toBeGreaterThan(0);
    expect(report.steps).toBeGreaterThan(report.killedAtStep);
    expect(report.jetstream).toEqual({ stored: report.events, distinct: report.events });
  }, 300_000);
});
