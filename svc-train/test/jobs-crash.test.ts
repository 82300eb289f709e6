// kill -9 of a svc-train process in the middle of a job: the restarted process finds the job running with no
// live worker, continues it from its last good checkpoint (refusing a half-written one), and the job's
// history has every step exactly once with continuous sequence numbers.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkHealth, createClient, datasetPath, remoteImpl } from '@lab/common';
import { type JobEvent, SubmitJobRequest, TrainServiceClient, TrainServiceService } from '@lab/proto/train';
import { freePort, type NatsServerHandle, runNatsServer } from '@lab/supervisor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '../..');
const home = mkdtempSync(join(tmpdir(), 'lab-train-crash-'));
const dataPath = join(home, 'input.txt');
writeFileSync(dataPath, readFileSync(datasetPath('tinyshakespeare', 'input.txt'), 'utf8').slice(0, 20_000));

let nats: NatsServerHandle;
let port: number;
let child: ChildProcess | undefined;
let output = '';

async function startService(): Promise<void> {
  child = spawn(process.execPath, ['--import', 'tsx', 'svc-train/src/server.ts'], {
    cwd: repo,
    env: {
      ...process.env,
      LAB_HOME: home,
      LAB_HOST: '127.0.0.1',
      LAB_TRAIN_PORT: String(port),
      NATS_URL: nats.url,
      LAB_LOG_LEVEL: 'warn',
      LAB_TRAIN_LEASE_MS: '1500',
      LAB_TRAIN_ACK_WAIT_MS: '5000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const deadline = Date.now() + 60_000;
  while ((await checkHealth(`127.0.0.1:${port}`, '', 1000)) !== 'SERVING') {
    if (Date.now() > deadline || child.exitCode !== null)
      throw new Error(`svc-train did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function kill9(): Promise<void> {
  const c = child!;
  return new Promise((r) => {
    c.once('exit', () => r());
    c.kill('SIGKILL');
  });
}

beforeAll(async () => {
  nats = await runNatsServer(home);
  port = await freePort();
}, 30_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
  }
  await nats?.stop();
  rmSync(home, { recursive: true, force: true });
});

describe('svc-train after kill -9', () => {
  it('resumes the running job from its last good checkpoint with no metric point lost or duplicated', async () => {
    await startService();
    const address = `127.0.0.1:${port}`;
    let client = createClient(TrainServiceClient, address);
    let train = remoteImpl(TrainServiceService, client);
    const iters = 1500;
    const job = await train.submitJob!(
      SubmitJobRequest.fromPartial({
        name: 'crash',
        dataPath,
        tokenizer: 'char',
        config: {
          modelJson: JSON.stringify({ nLayer: 1, nHead: 2, nEmbd: 16, ffnHidden: 32 }),
          context: 16,
          batchSize: 4,
          iters,
          evalInterval: 100,
          checkpointInterval: 100,
          evalIters: 2,
          sampleOff: true,
          threads: 1,
        },
      }),
      undefined as never,
    );

    // Follow the job until a checkpoint exists and training is well past it, then kill the process.
    const before: JobEvent[] = [];
    const stream = train.watchJob!({ id: job.id, afterSeq: 0 }, undefined as never);
    try {
      for await (const e of stream) {
        before.push(e);
        if (e.kind === 'step' && e.step >= 250) break;
      }
    } catch {
      // the stream ends with the process
    }
    const atKill = await train.getJob!({ id: job.id }, undefined as never);
    expect(atKill.state).toBe('running');
    expect(atKill.checkpoints.length).toBeGreaterThan(0);
    await kill9();
    client.close();
    expect(atKill.step).toBeLessThan(iters);

    // A checkpoint cut off mid-write (newer than every good one, no manifest) must never be loaded.
    const jobDir = join(home, 'train', 'jobs', job.id);
    const torn = join(jobDir, 'checkpoints', 'step-000099999');
    mkdirSync(torn, { recursive: true });
    writeFileSync(join(torn, 'model.safetensors'), 'half');

    await startService();
    client = createClient(TrainServiceClient, address);
    train = remoteImpl(TrainServiceService, client);
    try {
      const events: JobEvent[] = [];
      for await (const e of train.watchJob!({ id: job.id, afterSeq: 0 }, undefined as never)) events.push(e);

      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      const steps = events.filter((e) => e.kind === 'step').map((e) => e.step);
      expect(steps).toEqual(Array.from({ length: iters }, (_, i) => i + 1));
      const evals = events.filter((e) => e.kind === 'eval').map((e) => e.step);
      expect(evals).toEqual(Array.from({ length: iters / 100 }, (_, i) => (i + 1) * 100));
      // What a client saw before the crash is exactly the start of the history.
      expect(events.slice(0, before.length)).toEqual(before);
      expect(events.at(-1)).toMatchObject({ kind: 'state', state: 'completed' });

      const messages = events.filter((e) => e.kind === 'state').map((e) => e.message);
      expect(messages.some((m) => /stopped|takes over/.test(m))).toBe(true);
      const cont = events.find((e) => e.message.startsWith('continuing from the checkpoint'))!;
      expect(cont.step % 100).toBe(0);
      // It resumed from a checkpoint no later than the last step stored before the crash (training went on
      // for a moment between the last look and the kill landing).
      const takeover = events.findIndex((e) => e.kind === 'state' && /stopped|takes over/.test(e.message));
      const lastBefore = Math.max(
        ...events
          .slice(0, takeover)
          .filter((e) => e.kind === 'step')
          .map((e) => e.step),
      );
      expect(lastBefore).toBeGreaterThanOrEqual(atKill.step);
      expect(cont.step).toBeLessThanOrEqual(lastBefore);
      expect(cont.message).toContain('refused');
      expect(cont.message).toContain('step-000099999');

      const done = await train.getJob!({ id: job.id }, undefined as never);
      expect(done).toMatchObject({ state: 'completed', step: iters, attempts: 2 });
    } finally {
      client.close();
    }
  }, 120_000);
});
