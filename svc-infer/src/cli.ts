import { callUnary, createClient, infoCommand, loadConfig, runCli, serveCommand } from '@lab/common';
import { InferServiceClient } from '@lab/proto/infer';

await runCli('lab-infer', 'models: load, generate, chat, look inside (attention, activations)', {
  serve: serveCommand(async () => (await import('./server.ts')).start()),
  info: infoCommand(
    () => loadConfig().addresses.infer,
    (address) => {
      const client = createClient(InferServiceClient, address);
      return callUnary(client.getInfo.bind(client), {}).finally(() => client.close());
    },
  ),
});
