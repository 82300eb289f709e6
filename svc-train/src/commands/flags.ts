// parseArgs wrapper: readable errors that name the bad flag, and typed number/flag accessors.
import { parseArgs } from 'node:util';

export type FlagSpec = Record<
  string,
  { type: 'string' | 'boolean'; short?: string; default?: string | boolean }
>;

/** A bad command line; the code makes lab-train's runner print one line and exit 2 (as for parseArgs errors). */
export class UsageError extends Error {
  readonly code = 'ERR_PARSE_ARGS_USAGE';
}

export function parseFlags(
  command: string,
  argv: string[],
  spec: FlagSpec,
): Record<string, string | boolean | undefined> {
  try {
    return parseArgs({ args: argv, options: spec, strict: true, allowPositionals: false }).values as Record<
      string,
      string | boolean | undefined
    >;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new UsageError(
      `${command}: ${msg.replace(/\. To specify a positional argument.*$/s, '')} (see ${command} --help)`,
    );
  }
}

export function num(
  command: string,
  values: Record<string, string | boolean | undefined>,
  flag: string,
  def: number,
): number {
  const raw = values[flag];
  if (raw === undefined) return def;
  const n = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n)) {
    throw new UsageError(`${command}: --${flag} must be a number, got '${String(raw)}'`);
  }
  return n;
}

export function int(
  command: string,
  values: Record<string, string | boolean | undefined>,
  flag: string,
  def: number,
  min = 0,
): number {
  const n = num(command, values, flag, def);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`${command}: --${flag} must be an integer ≥ ${min}, got '${values[flag]}'`);
  return n;
}

export function str(values: Record<string, string | boolean | undefined>, flag: string): string | undefined {
  const v = values[flag];
  return typeof v === 'string' ? v : undefined;
}
