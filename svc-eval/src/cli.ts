import { infoCommand, runCli, serveCommand } from '@lab/common';
import { EvalServiceClient } from '@lab/proto/eval';
import { metricsCommand } from './metrics-command.ts';
import { runCommands } from './run-commands.ts';

await runCli('lab-eval', 'metrics and benchmarks: perplexity, BLEU, ROUGE, multiple choice, code execution', {
  serve: serveCommand(async () => (await import('./server.ts')).start()),
  info: infoCommand('eval', EvalServiceClient),
  metrics: metricsCommand,
  ...runCommands,
});
