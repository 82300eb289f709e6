import { infoCommand, runCli, serveCommand } from '@lab/common';
import { TrainServiceClient } from '@lab/proto/train';
import { jobCommands } from './commands/jobs.ts';

await runCli(
  'lab-train',
  'training: pre-train a GPT, sample from checkpoints, queue and follow jobs on the service',
  {
    pretrain: {
      summary: 'Pre-train a model on a text file in this process (nanoGPT-style logs)',
      usage:
        'pretrain --data FILE --tokenizer char --preset nanogpt-cpu --iters N --out DIR  (see pretrain --help)',
      runRaw: async (args) => (await import('./commands/pretrain.ts')).pretrain(args),
    },
    sample: {
      summary: 'Generate text from a checkpoint directory',
      usage: 'sample --ckpt DIR --prompt TEXT --tokens N',
      runRaw: async (args) => (await import('./commands/sample.ts')).sample(args),
    },
    ...jobCommands,
    serve: serveCommand(async () => (await import('./server.ts')).start()),
    info: infoCommand('train', TrainServiceClient),
  },
);
