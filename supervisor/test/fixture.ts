import { spawn } from 'node:child_process';
import { type Stack, startStack } from '@lab/supervisor';
import { afterAll, beforeAll } from 'vitest';

/**
 * Starts a real stack (nats-server, five services, gateway on free loopback ports) for the test file and
 * stops it afterwards; the getter is valid inside tests.
 */
export function useStack(): () => Stack {
  let stack: Stack | undefined;
  beforeAll(async () => {
    stack = await startStack({ ports: 'free', nats: true, output: 'buffer' });
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
  });
  return () => {
    if (!stack) throw new Error('the stack is not running');
    return stack;
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node file ...args` and resolves with its exit code and output. Asynchronous on purpose: tests
 * that spawnSync never yield, so a file of them blocks its vitest fork from first test to last, and past
 * 60 s (a 100 MB encode on a busy 2-core machine) the fork misses its own RPC deadline and fails the run
 * with "Timeout calling onTaskUpdate".
 */
export function runCli(
  file: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], {
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
