import { callUnary, createClient, infoCommand, loadConfig, runCli, serveCommand } from '@lab/common';
import { DataServiceClient } from '@lab/proto/data';

await runCli('lab-data', 'datasets: ingest, clean, deduplicate, split, tokenize into shards', {
  serve: serveCommand(async () => (await import('./server.ts')).start()),
  info: infoCommand(
    () => loadConfig().addresses.data,
    (address) => {
      const client = createClient(DataServiceClient, address);
      return callUnary(client.getInfo.bind(client), {}).finally(() => client.close());
    },
  ),
});
