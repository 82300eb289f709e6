// One flipped byte in the newest checkpoint: the resumed job refuses it (its SHA-256 no longer matches the
// manifest; the file keeps its size, so only the checksum can tell) and continues from the previous
// checkpoint, recomputing the steps in between to exactly the numbers an uninterrupted run has.
// svc-train's implementation over real gRPC, with its in-process bus and queue, and real ONNX Runtime.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bindService,
  createClient,
  createLogger,
  datasetPath,
  loadConfig,
  MemoryBus,
  openStore,
  type RunningGrpcServer,
  remoteImpl,
  type ServiceImpl,
  type Store,
  startGrpcServer,
} from '@lab/common';
import { loadCheckpoint } from '@lab/engine';
import { type JobEvent, SubmitJobRequest, TrainServiceClient, TrainServiceService } from '@lab/proto/train';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyCheckpoint } from '../src/jobs/checkpoints.ts';
import type { JobManager } from '../src/jobs/manager.ts';
import { createTrainImpl } from '../src/service.ts';

const home = mkdtempSync(join(tmpdir(), 'lab-train-corrupt-'));
const dataPath = join(home, 'input.txt');
writeFileSync(dataPath, readFileSync(datasetPath('tinyshakespeare', 'input.txt'), 'utf8').slice(0, 20_000));
const ctx = undefined as never;

let store: Store;
let bus: MemoryBus;
let manager: JobManager;
let server: RunningGrpcServer;
let client: TrainServiceClient;
let train: ServiceImpl<typeof TrainServiceService>;

beforeAll(async () => {
  store = openStore(home, 'train');
  bus = new MemoryBus();
  const log = createLogger('train', 'error');
  const config = loadConfig({ LAB_DATA_ROOTS: process.env.LAB_DATA_ROOTS, LAB_HOME: home });
  const made = await createTrainImpl({ bus, store, config, log }, { workerId: 'corrupt', leaseMs: 3000 });
  manager = made.manager;
  server = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    services: [bindService(TrainServiceService, made.impl)],
    log,
  });
  client = createClient(TrainServiceClient, `127.0.0.1:${server.port}`);
  train = remoteImpl(TrainServiceService, client);
}, 60_000);

afterAll(async () => {
  client?.close();
  await server?.shutdown(100);
  await manager?.close();
  await bus?.close();
  await store?.close();
  rmSync(home, { recursive: true, force: true });
});

async function collect(id: string): Promise<JobEvent[]> {
  const out: JobEvent[] = [];
  for await (const e of train.watchJob!({ id, afterSeq: 0 }, ctx)) out.push(e);
  return out;
}

const iters = 300;
const job = (name: string) =>
  SubmitJobRequest.fromPartial({
    name,
    dataPath,
    tokenizer: 'char',
    config: {
      modelJson: JSON.stringify({ nLayer: 1, nHead: 2, nEmbd: 16, ffnHidden: 32 }),
      context: 16,
      batchSize: 4,
      iters,
      evalInterval: 100,
      checkpointInterval: 50,
      evalIters: 2,
      sampleOff: true,
      threads: 1,
    },
  });

const losses = (events: JobEvent[]) => events.filter((e) => e.kind === 'step').map((e) => [e.step, e.loss]);

describe('a corrupted newest checkpoint', () => {
  it('is refused on resume by its SHA-256, and the job continues from the previous one', async () => {
    const reference = await collect((await train.submitJob!(job('reference'), ctx)).id);
    expect(reference.at(-1)).toMatchObject({ kind: 'state', state: 'completed' });

    const { id } = await train.submitJob!(job('corrupted'), ctx);
    for await (const e of train.watchJob!({ id, afterSeq: 0 }, ctx))
      if (e.kind === 'step' && e.step >= 120) break;
    const paused = await train.pauseJob!({ id }, ctx);
    expect(paused.state).toBe('paused');
    expect(paused.step).toBeLessThan(iters - 50);
    // The newest checkpoint is the pause's; the one before it is a regular one, at a multiple of 50.
    const [previous, newest] = paused.checkpointInfo.slice(-2);
    expect(newest!.step).toBe(paused.step);
    expect(previous!.step % 50).toBe(0);
    expect(previous!.step).toBeLessThan(newest!.step);

    // Flip one byte of the last weight (the end of the data, far from the safetensors header): the file
    // still parses, has its size, and would load as slightly different weights.
    const file = join(newest!.dir, 'model.safetensors');
    const buf = readFileSync(file);
    buf[buf.length - 2]! ^= 0x01;
    writeFileSync(file, buf);
    expect(() => loadCheckpoint(newest!.dir)).not.toThrow();
    expect(verifyCheckpoint(newest!.dir)).toBe('model.safetensors fails its SHA-256 check');

    await train.resumeJob!({ id }, ctx);
    const events = await collect(id);
    expect(events.at(-1)).toMatchObject({ kind: 'state', state: 'completed' });
    const cont = events.find((e) => e.message.startsWith('continuing from the checkpoint'))!;
    expect(cont.step).toBe(previous!.step);
    expect(cont.message).toContain('refused');
    expect(cont.message).toContain(`step-${String(newest!.step).padStart(9, '0')}`);
    expect(cont.message).toContain('SHA-256');
    // Every step once, and the steps recomputed from the older checkpoint land on the reference's numbers.
    expect(losses(events)).toEqual(losses(reference));
    expect((await train.getJob!({ id }, ctx)).step).toBe(iters);
  }, 120_000);
});
