// Job commands of lab-train: they talk to a running svc-train (its configured address, or --remote), since
// jobs live in the service's queue and store.
import {
  type CliCommand,
  type CliValues,
  createClient,
  intFlag,
  LabError,
  loadConfig,
  localCallContext,
  remoteImpl,
  remoteOption,
  type ServiceImpl,
} from '@lab/common';
import {
  EstimateModelRequest,
  type Job,
  SubmitJobRequest,
  TrainConfig,
  TrainServiceClient,
  TrainServiceService,
} from '@lab/proto/train';

type Impl = Required<ServiceImpl<typeof TrainServiceService>>;

function service(values: CliValues): { svc: Impl; close(): void } {
  const address = typeof values.remote === 'string' ? values.remote : loadConfig().addresses.train;
  const client = createClient(TrainServiceClient, address);
  return { svc: remoteImpl(TrainServiceService, client) as Impl, close: () => client.close() };
}

const out = (s: string): void => {
  process.stdout.write(`${s}\n`);
};
const ctx = localCallContext();

function line(j: Job): string {
  const loss = j.valLoss ? ` val_loss=${j.valLoss.toFixed(4)}` : j.loss ? ` loss=${j.loss.toFixed(4)}` : '';
  return `${j.id}  ${j.state.padEnd(9)} ${String(j.step).padStart(7)}/${j.iters}${loss}  ${j.name}`;
}

function withService(run: (svc: Impl, values: CliValues, positionals: string[]) => Promise<void>) {
  return async (values: CliValues, positionals: string[]) => {
    const { svc, close } = service(values);
    try {
      await run(svc, values, positionals);
    } finally {
      close();
    }
  };
}

const jobId = (positionals: string[]): string => {
  if (!positionals[0]) throw new LabError('INVALID_ARGUMENT', 'give the job id', 'id');
  return positionals[0];
};

/** Follows a job's events until it ends, one line per log interval, eval and state change. */
async function follow(svc: Impl, id: string, every: number): Promise<void> {
  for await (const e of svc.watchJob({ id, afterSeq: 0 }, ctx)) {
    if (e.kind === 'step' && e.step % every === 0) {
      out(
        `iter ${e.step}: loss ${e.loss.toFixed(4)}, lr ${e.lr.toExponential(2)}, ${Math.round(e.tokensPerSecond)} tok/s`,
      );
    } else if (e.kind === 'eval') {
      out(`step ${e.step}: train loss ${e.trainLoss.toFixed(4)}, val loss ${e.valLoss.toFixed(4)}`);
      const ind = e.induction;
      if (ind)
        out(
          `  first half ${ind.firstHalfLoss.toFixed(4)}, second half ${ind.secondHalfLoss.toFixed(4)}, induction ${ind.inductionScore.toFixed(3)} (layer ${ind.bestLayer} head ${ind.bestHead})`,
        );
      if (e.sample) out(`  sample: ${JSON.stringify(e.sample)}`);
    } else if (e.kind === 'state') out(`[${e.state}] ${e.message}`);
  }
}

const action = (verb: 'pause' | 'resume' | 'cancel', summary: string): CliCommand => ({
  summary,
  usage: `${verb} ID [--remote host:port]`,
  options: remoteOption,
  run: withService(async (svc, _values, positionals) => {
    const id = jobId(positionals);
    const j =
      verb === 'pause'
        ? await svc.pauseJob({ id }, ctx)
        : verb === 'resume'
          ? await svc.resumeJob({ id }, ctx)
          : await svc.cancelJob({ id }, ctx);
    out(line(j));
  }),
});

export const jobCommands: Record<string, CliCommand> = {
  submit: {
    summary: 'Queue a pre-training job on the running service (a text file or a svc-data dataset version)',
    usage:
      'submit (--data FILE | --dataset ID [--version N] | --repeat-vocab V --repeat-half H [--data-seed S]) [--tokenizer char] [--preset P] [--model JSON] --iters N [--follow]',
    help: {
      data: 'UTF-8 text file readable by the service',
      'repeat-vocab':
        'pre-train on random tokens repeated twice: their vocabulary size (the induction-head recipe)',
      'repeat-half': 'with --repeat-vocab: the longest repeated run (the context is twice this)',
      'data-seed': 'with --repeat-vocab: seed of the data stream (default: the job’s)',
      model: 'preset overrides as JSON, e.g. {"nLayer":2,"attnOnly":true}',
      dataset: 'svc-data dataset id (tokenized with --tokenizer first: lab-data tokenize)',
      version: 'dataset version (default: latest)',
      tokenizer: 'char (default), gpt2, cl100k_base, o200k_base or a svc-tokenize name',
      preset: 'model preset (default nanogpt-cpu)',
      iters: 'optimizer steps',
      batch: 'sequences per batch (default 12)',
      context: 'context length (default: the preset’s)',
      lr: 'peak learning rate (default 1e-3)',
      follow: 'print progress until the job ends',
    },
    options: {
      data: { type: 'string' },
      dataset: { type: 'string' },
      version: { type: 'string' },
      tokenizer: { type: 'string' },
      preset: { type: 'string' },
      iters: { type: 'string' },
      batch: { type: 'string' },
      context: { type: 'string' },
      lr: { type: 'string' },
      name: { type: 'string' },
      'repeat-vocab': { type: 'string' },
      'repeat-half': { type: 'string' },
      'data-seed': { type: 'string' },
      model: { type: 'string' },
      'eval-interval': { type: 'string' },
      follow: { type: 'boolean' },
      ...remoteOption,
    },
    run: withService(async (svc, values) => {
      const lr = values.lr === undefined ? undefined : Number(values.lr);
      if (lr !== undefined && !(lr > 0 && lr <= 1))
        throw new LabError('INVALID_ARGUMENT', '--lr must be in (0, 1]', 'lr');
      // Flags given to the service as they are: its validation names the field (repeatedTokens.vocabSize, …).
      const repeatVocab = intFlag(values, 'repeat-vocab', 0, 0);
      const repeatedTokens =
        values['repeat-vocab'] !== undefined || values['repeat-half'] !== undefined
          ? {
              vocabSize: repeatVocab,
              halfLength: intFlag(values, 'repeat-half', 0, 0),
              seed: values['data-seed'] === undefined ? undefined : intFlag(values, 'data-seed', 0, 0),
            }
          : undefined;
      const job = await svc.submitJob(
        SubmitJobRequest.fromPartial({
          repeatedTokens,
          name: (values.name as string | undefined) ?? '',
          dataPath: (values.data as string | undefined) ?? '',
          datasetId: (values.dataset as string | undefined) ?? '',
          datasetVersion: intFlag(values, 'version', 0),
          tokenizer: (values.tokenizer as string | undefined) ?? (repeatedTokens ? '' : 'char'),
          config: {
            preset: (values.preset as string | undefined) ?? '',
            iters: intFlag(values, 'iters', 0, 1),
            batchSize: intFlag(values, 'batch', 0, 1),
            context: intFlag(values, 'context', 0, 1),
            learningRate: lr ?? 0,
            modelJson: (values.model as string | undefined) ?? '',
            evalInterval: intFlag(values, 'eval-interval', 0, 1),
          },
        }),
        ctx,
      );
      out(line(job));
      if (values.follow) await follow(svc, job.id, Math.max(1, Math.floor(job.iters / 20)));
    }),
  },
  jobs: {
    summary: 'List training jobs of the running service',
    usage: 'jobs [--state S] [--json]',
    options: { state: { type: 'string' }, json: { type: 'boolean' }, ...remoteOption },
    run: withService(async (svc, values) => {
      const res = await svc.listJobs(
        { state: (values.state as string | undefined) ?? '', page: { offset: 0, limit: 100 } },
        ctx,
      );
      if (values.json) return void out(JSON.stringify(res.jobs));
      for (const j of res.jobs) out(line(j));
    }),
  },
  watch: {
    summary: 'Follow a job: its history, then live progress until it ends',
    usage: 'watch ID [--every N]',
    options: { every: { type: 'string' }, ...remoteOption },
    run: withService(async (svc, values, positionals) =>
      follow(svc, jobId(positionals), intFlag(values, 'every', 10, 1)),
    ),
  },
  pause: action('pause', 'Pause a running job after its current step (it writes a checkpoint)'),
  resume: action('resume', 'Queue a paused job again; it continues from its checkpoint'),
  cancel: action('cancel', 'Cancel a queued, running or paused job'),
  estimate: {
    summary: 'Parameters, FLOPs, memory and time of a model before training it, against this machine',
    usage: 'estimate [--preset P] [--batch N] [--context N] [--iters N] [--tokenizer NAME] [--data FILE]',
    options: {
      preset: { type: 'string' },
      batch: { type: 'string' },
      context: { type: 'string' },
      iters: { type: 'string' },
      tokenizer: { type: 'string' },
      data: { type: 'string' },
    },
    run: async (values) => {
      // Pure arithmetic: computed in this process with the same code the service uses. Registry tokenizers
      // and dataset shards need the services; without them the preset's vocabulary stands in.
      const { estimate } = await import('../jobs/estimate.ts');
      const { jobVocab } = await import('../jobs/vocab.ts');
      const req = EstimateModelRequest.fromPartial({
        config: TrainConfig.fromPartial({
          preset: (values.preset as string | undefined) ?? '',
          batchSize: intFlag(values, 'batch', 0, 1),
          context: intFlag(values, 'context', 0, 1),
          iters: intFlag(values, 'iters', 0, 0),
        }),
        tokenizer: (values.tokenizer as string | undefined) ?? '',
        dataPath: (values.data as string | undefined) ?? '',
      });
      const away = () => Promise.reject(new LabError('UNAVAILABLE', 'not asked from the CLI'));
      const e = estimate(req, await jobVocab(req, { shardTokenizer: away, fetchTokenizer: away }));
      const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
      const p = e.parameters!;
      out(
        `parameters ${p.total.toLocaleString('en')} (embeddings ${p.embeddings.toLocaleString('en')}, attention ${p.attention.toLocaleString('en')}, mlp ${p.mlp.toLocaleString('en')}, head ${p.head.toLocaleString('en')})`,
      );
      out(
        `FLOPs/token ${(e.forwardFlopsPerToken / 1e6).toFixed(1)} M forward, ${(e.backwardFlopsPerToken / 1e6).toFixed(1)} M backward`,
      );
      out(
        `memory: weights ${mb(e.weightsBytes)}, gradients ${mb(e.gradientsBytes)}, AdamW ${mb(e.optimizerBytes)}, activations ${mb(e.activationsBytes)}`,
      );
      out(`≈ ${(e.secondsPerStep * 1000).toFixed(0)} ms per step on this machine's CPU`);
      out(`vocabulary ${e.vocabSize.toLocaleString('en')} (${e.vocabSource})`);
      if (e.totalSeconds) out(`≈ ${(e.totalSeconds / 3600).toFixed(1)} h for all steps`);
      for (const w of e.warnings) out(`warning: ${w.message}`);
    },
  },
};
