import { callUnary, createClient, infoCommand, loadConfig, runCli, serveCommand } from '@lab/common';
import { TokenizeServiceClient } from '@lab/proto/tokenize';

await runCli('lab-tokenize', 'tokenizers: train, encode, decode, inspect, compare', {
  serve: serveCommand(async () => (await import('./server.ts')).start()),
  info: infoCommand(
    () => loadConfig().addresses.tokenize,
    (address) => {
      const client = createClient(TokenizeServiceClient, address);
      return callUnary(client.getInfo.bind(client), {}).finally(() => client.close());
    },
  ),
});
