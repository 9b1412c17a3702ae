import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfig, type Config } from '../config/config.js';
import { withEnvFile } from '../config/env-file.js';

/** Exit codes every command keeps to (docs/cli.md). */
export const EXIT = {
  OK: 0,
  /** What was asked for failed or found a problem: an invalid policy, a rejected reload, a failing test. */
  FAILED: 1,
  /** The command line was wrong. */
  USAGE: 2,
  /** The running plugin (or, for scan, the daemon) could not be reached. */
  UNREACHABLE: 3,
  /** explain, test: the policy or an input file could not be read (or is not valid). */
  UNREADABLE: 3,
} as const;

type OptionSpec = NonNullable<ParseArgsConfig['options']>[string] & { readonly description: string; readonly valueName?: string };

export interface Command {
  /** As typed: `check`, `hello reset`. */
  readonly name: string;
  /** Positional arguments, as shown in usage: `[POLICY...]`. */
  readonly args?: string;
  readonly summary: string;
  readonly description?: string;
  readonly options?: Readonly<Record<string, OptionSpec>>;
  readonly positionals?: { readonly min?: number; readonly max?: number };
  run(ctx: CommandContext): Promise<number> | number;
}

export interface CommandContext {
  readonly values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;
  readonly positionals: readonly string[];
  /** The validated configuration (environment over the env file); read on first use. */
  config(): Config;
  out(text: string): void;
  err(text: string): void;
}

export class UsageError extends Error {}

export function usageLine(cmd: Command): string {
  const opts = Object.keys(cmd.options ?? {}).length > 0 ? ' [options]' : '';
  return `docker-authz ${cmd.name}${opts}${cmd.args ? ` ${cmd.args}` : ''}`;
}

export function helpText(cmd: Command): string {
  const lines = [`usage: ${usageLine(cmd)}`, '', cmd.summary];
  if (cmd.description) lines.push('', cmd.description);
  const options = Object.entries(cmd.options ?? {});
  lines.push('', 'options:');
  for (const [name, o] of options) {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` ${o.valueName ?? 'VALUE'}` : ''}`;
    lines.push(`  ${flag.padEnd(26)} ${o.description}`);
  }
  lines.push(`  ${'-h, --help'.padEnd(26)} show this help`);
  return lines.join('\n');
}

/** Parses `argv` for `cmd` strictly (unknown options and missing values are usage errors). */
export function parseCommand(
  cmd: Command,
  argv: readonly string[],
): { help: true } | { help: false; values: CommandContext['values']; positionals: string[] } {
  const options = { ...cmd.options, help: { type: 'boolean', short: 'h' } } as NonNullable<ParseArgsConfig['options']>;
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^TypeError \[\w+\]: /, ''));
  }
  if (parsed.values.help) return { help: true };
  const n = parsed.positionals.length;
  const { min = 0, max = 0 } = cmd.positionals ?? {};
  if (n < min) throw new UsageError(`${cmd.name}: expected ${cmd.args ?? 'more arguments'}`);
  if (n > max) throw new UsageError(`${cmd.name}: unexpected argument ${JSON.stringify(parsed.positionals[max])}`);
  return { help: false, values: parsed.values, positionals: parsed.positionals };
}

export function lazyConfig(env: NodeJS.ProcessEnv): () => Config {
  let config: Config | undefined;
  return () => (config ??= loadConfig(withEnvFile(env)));
}
