import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { CallOptions, credentials, Metadata } from '@grpc/grpc-js';
import { MemoryBus } from './bus/memory.ts';
import { ConfigError, loadConfig, type ServiceName } from './config.ts';
import { fromServiceError, LabError } from './errors.ts';
import { callUnary, createClient, type ServiceImpl } from './grpc.ts';
import { createLogger } from './log.ts';
import { remoteImpl } from './remote.ts';
import type { ServiceDeps } from './service.ts';
import { openStore } from './store.ts';

type Options = NonNullable<ParseArgsConfig['options']>;
export type CliValues = Record<string, string | boolean | string[] | boolean[] | undefined>;

export interface CliCommand {
  /** One line for the command list. */
  summary: string;
  /** Usage line after the program name, e.g. `encode --tokenizer NAME (--file F | TEXT)`. */
  usage: string;
  /** Flag descriptions for --help, keyed by flag name. */
  help?: Record<string, string>;
  options?: Options;
  run?(values: CliValues, positionals: string[]): Promise<void>;
  /** For commands that parse their own flags (and print their own --help): gets the raw arguments. */
  runRaw?(args: string[]): Promise<void>;
}

const remoteHelp = { remote: 'host:port of a running service; default: run in this process' };

/** Shared flag: every service CLI can work in-process or against a server. */
export const remoteOption: Options = { remote: { type: 'string' } };

function commandHelp(program: string, cmd: CliCommand): string {
  const flags = { ...cmd.help, ...(cmd.options?.remote ? remoteHelp : {}) };
  const lines = Object.entries(flags).map(([k, v]) => `  --${k.padEnd(16)} ${v}`);
  return `${cmd.summary}\n\nUsage: ${program} ${cmd.usage}\n${lines.length ? `\nOptions:\n${lines.join('\n')}\n` : ''}`;
}

/** Runs a sub-command CLI: `program <command> [flags]`, with --help at both levels and clear errors. */
export async function runCli(
  program: string,
  description: string,
  commands: Record<string, CliCommand>,
  argv: string[] = process.argv.slice(2),
): Promise<void> {
  const width = Math.max(...Object.keys(commands).map((k) => k.length));
  const overview = `${program}: ${description}\n\nUsage: ${program} <command> [options]\n\nCommands:\n${Object.entries(
    commands,
  )
    .map(([k, c]) => `  ${k.padEnd(width)}  ${c.summary}`)
    .join('\n')}\n\nRun '${program} <command> --help' for a command's options.\n`;
  // `lab-tokenize encode … | head` closes the pipe early: that is a normal end, not a crash.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(overview);
    return;
  }
  const cmd = commands[name];
  if (!cmd) {
    process.stderr.write(`error: unknown command '${name}'\n\n${overview}`);
    process.exitCode = 2;
    return;
  }
  if (cmd.runRaw) {
    try {
      await cmd.runRaw(rest);
    } catch (err) {
      process.exitCode = reportError(err);
    }
    return;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(commandHelp(program, cmd));
    return;
  }
  try {
    const { values, positionals } = parseArgs({
      args: rest,
      options: cmd.options ?? {},
      allowPositionals: true,
      strict: true,
    });
    await cmd.run?.(values as CliValues, positionals);
  } catch (err) {
    process.exitCode = reportError(err);
  }
}

function reportError(err: unknown): number {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    return 2;
  }
  if (err instanceof ConfigError) {
    process.stderr.write(`error: invalid configuration: ${err.message}\n`);
    return 2;
  }
  const lab = err instanceof LabError ? err : fromServiceError(err);
  if (lab.code === 'UNAVAILABLE') {
    process.stderr.write(
      `error: the service cannot be reached (${lab.message}); is the lab running? (npm start)\n`,
    );
  } else if (lab.code === 'INTERNAL')
    process.stderr.write(`error: ${(err as Error)?.stack ?? lab.message}\n`);
  else process.stderr.write(`error: ${lab.message}\n`);
  return 1;
}

/** Reads a string flag that must be present. */
export function requireString(values: CliValues, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '')
    throw new LabError('INVALID_ARGUMENT', `--${name} is required`, name);
  return v;
}

/** Reads an integer flag with bounds, naming the flag in the error. */
export function intFlag(
  values: CliValues,
  name: string,
  fallback: number,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const v = values[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isInteger(n) || n < min || n > max) {
    throw new LabError(
      'INVALID_ARGUMENT',
      `--${name} must be an integer between ${min} and ${max} (got "${v}")`,
      name,
    );
  }
  return n;
}

type InfoClient = {
  getInfo(
    req: object,
    md: Metadata,
    opts: Partial<CallOptions>,
    cb: (err: Error | null, res: object) => void,
  ): unknown;
  close(): void;
};

/** `info` command every service CLI has: GetInfo of a running service (at --remote, else its configured address). */
export function infoCommand(
  service: ServiceName,
  Client: new (
    address: string,
    creds: ReturnType<typeof credentials.createInsecure>,
    options?: Record<string, unknown>,
  ) => InfoClient,
): CliCommand {
  return {
    summary: 'Show what a running service reports about itself (version, bus, implemented RPCs)',
    usage: 'info [--remote host:port]',
    options: remoteOption,
    run: async (values) => {
      const address = typeof values.remote === 'string' ? values.remote : loadConfig().addresses[service];
      const client = createClient(Client, address);
      try {
        const info = await callUnary(client.getInfo.bind(client), {});
        process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
      } finally {
        client.close();
      }
    },
  };
}

/** `serve` command every service CLI has: runs the gRPC server in the foreground. */
export function serveCommand(start: () => Promise<unknown>): CliCommand {
  return {
    summary: 'Run the gRPC service in the foreground (ports and state from LAB_* environment variables)',
    usage: 'serve',
    run: async () => {
      await start();
    },
  };
}

type LocalDeps = Pick<ServiceDeps, 'config' | 'store' | 'bus' | 'log'>;
type RequiredImpl<D> = { [K in keyof ServiceImpl<D>]-?: NonNullable<ServiceImpl<D>[K]> };

/**
 * What a service CLI calls: the same implementation the server runs, built in this process on the service's
 * own store, or — with `--remote host:port` — a client of a running server. One code path either way.
 */
export function cliBackend<D extends Record<string, { requestStream: boolean; responseStream: boolean }>>(
  values: CliValues,
  service: ServiceName,
  definition: D,
  Client: new (
    address: string,
    creds: ReturnType<typeof credentials.createInsecure>,
    options?: Record<string, unknown>,
  ) => object,
  local: (deps: LocalDeps) => ServiceImpl<D>,
): RequiredImpl<D> {
  if (typeof values.remote === 'string') {
    // Long operations (training a tokenizer, cleaning a dataset) may take minutes.
    return remoteImpl(
      definition,
      createClient(Client, values.remote, { deadlineMs: 600_000 }),
    ) as RequiredImpl<D>;
  }
  // The user's own process reads what the user can: data roots guard services from requests, not users.
  const config = { ...loadConfig(), dataRoots: undefined };
  return local({
    config,
    store: openStore(config.home, service),
    bus: new MemoryBus(),
    log: createLogger(service, 'warn'),
  }) as RequiredImpl<D>;
}
