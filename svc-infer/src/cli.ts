import { infoCommand, runCli, serveCommand } from '@lab/common';
import { InferServiceClient } from '@lab/proto/infer';

await runCli('lab-infer', 'models: load, generate, chat, look inside (attention, activations)', {
  serve: serveCommand(async () => (await import('./server.ts')).start()),
  info: infoCommand('infer', InferServiceClient),
});
