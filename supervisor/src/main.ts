import { loadConfigOrExit } from '@lab/common';
import { startStack } from './stack.ts';
import { ensureUiBuilt } from './ui-build.ts';

// Validate the environment before starting anything, so a bad value names its variable and exits.
const config = loadConfigOrExit();
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
say(`open ${stack.url}`);

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
