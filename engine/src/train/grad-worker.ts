// Worker thread of GradWorkers: a single-threaded session of the accumulate graph that sums the
// gradients of the runs it is given (see workers.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { paramLayout } from '../models/model.ts';
import { BoundSession } from '../runtime/bound.ts';
import { createSession, ort } from '../runtime/session.ts';
import { bucketViews, DropoutMasks, tensorViews, tokenFeeds } from './feeds.ts';
import { buildStepGraph, DEFAULT_OPTIM, STATE } from './graphs.ts';
import type { GradReply, GradRequest, GradWorkerInit } from './workers.ts';

const init = workerData as GradWorkerInit;
const post = (m: GradReply, transfer: ArrayBufferLike[] = []): void =>
  parentPort!.postMessage(m, transfer as ArrayBuffer[]);

async function main(): Promise<void> {
  const { cfg, rowsPerRun, seq } = init;
  const layout = paramLayout(cfg);
  const graph = buildStepGraph({
    cfg,
    layout,
    batch: rowsPerRun,
    seq,
    optim: DEFAULT_OPTIM,
    ignoreIndex: init.ignoreIndex,
    mode: 'accumulate',
    accumulateIn: true,
    gradScale: init.gradScale,
  });
  const masks = new DropoutMasks(graph, cfg.dropout);
  const options = { ...init.session, threads: 1 };
  // Each run returns the whole accumulator: a bound session writes it in place (see bound.ts).
  const bytes = graph.toBytes();
  const session = (await BoundSession.create(bytes, options)) ?? (await createSession(bytes, options));
  const loss = new ort.Tensor('float32', new Float32Array(1), []);
  // The accumulator that is not travelling: runs alternate between it and the request's buffer.
  let spare: Float32Array = new Float32Array(layout.total);

  parentPort!.on('message', async (req: GradRequest) => {
    try {
      const params = tensorViews(layout, req.params, STATE.param);
      let acc = req.grad;
      let out = spare;
      acc.fill(0);
      const losses: number[] = [];
      for (const run of req.runs) {
        await session.run(
          {
            ...params,
            ...bucketViews(layout, acc, STATE.gradAcc),
            ...tokenFeeds(run, rowsPerRun, seq),
            ...masks.fill(init.seed, req.step, run.firstRow),
          },
          { loss, ...bucketViews(layout, out, STATE.gradAccOut) },
        );
        losses.push((loss.data as Float32Array)[0]);
        [acc, out] = [out, acc];
      }
      spare = out;
      post({ type: 'grads', params: req.params, grad: acc, losses }, [req.params.buffer, acc.buffer]);
    } catch (e) {
      post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
    }
  });
  post({ type: 'ready' });
}

main().catch((e) => post({ type: 'error', message: e instanceof Error ? e.message : String(e) }));
