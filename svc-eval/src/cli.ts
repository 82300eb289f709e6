import { callUnary, createClient, infoCommand, loadConfig, runCli, serveCommand } from '@lab/common';
import { EvalServiceClient } from '@lab/proto/eval';

await runCli('lab-eval', 'metrics and benchmarks: perplexity, BLEU, ROUGE, multiple choice, code execution', {
  serve: serveCommand(async () => (await import('./server.ts')).start()),
  info: infoCommand(
    () => loadConfig().addresses.eval,
    (address) => {
      const client = createClient(EvalServiceClient, address);
      return callUnary(client.getInfo.bind(client), {}).finally(() => client.close());
    },
  ),
});
