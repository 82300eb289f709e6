import { isLoopbackHost, loadConfigOrExit } from '@lab/common';
import { startStack } from './stack.ts';
import { ensureUiBuilt } from './ui-build.ts';

// Validate the environment before starting anything, so a bad value names its variable and exits.
const config = loadConfigOrExit();
if (!isLoopbackHost(config.host) && !config.gateway.token) {
  process.stderr.write(
    `[lab] error: LAB_HOST=${config.host} makes the lab reachable from other machines; set LAB_TOKEN (16+ characters) so only those who have it can use it\n`,
  );
  process.exit(2);
}
const say = (msg: string) => process.stdout.write(`[lab] ${msg}\n`);

say(`starting LLM Lab (LAB_HOME=${config.home})`);
try {
  ensureUiBuilt(say);
} catch (err) {
  process.stderr.write(`[lab] error: ${(err as Error).message}\n`);
  process.exit(1);
}
const stack = await startStack({ home: config.home, onEvent: say, output: 'inherit' }).catch((err: Error) => {
  process.stderr.write(`[lab] error: ${err.message}\n`);
  process.exit(1);
});
say(
  `all services healthy in ${stack.readySeconds.toFixed(1)} s; bus: ${stack.natsUrl ? `NATS at ${stack.natsUrl}` : 'in-process'}`,
);
say(`open ${stack.url}${config.gateway.token ? `/?token=${encodeURIComponent(config.gateway.token)}` : ''}`);

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  say(`${signal}: stopping…`);
  await stack.stop(4000);
  say('stopped');
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
