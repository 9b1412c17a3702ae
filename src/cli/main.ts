import { isCodedError } from '../errors.js';
import { VERSION } from '../version.js';
import { checkCommand } from './check.js';
import { EXIT, helpText, lazyConfig, parseCommand, UsageError, usageLine, type Command } from './command.js';
import { helloResetCommand, helloStatusCommand } from './hello.js';
import { reloadCommand } from './reload.js';
import { serveCommand } from './serve.js';
import { statusCommand } from './status.js';

/** Every command, in the order `docker-authz --help` lists them. */
export const COMMANDS: readonly Command[] = [
  serveCommand,
  checkCommand,
  reloadCommand,
  statusCommand,
  helloStatusCommand,
  helloResetCommand,
];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    'usage: docker-authz <command> [options]',
    '',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    '  docker-authz <command> --help     options of one command',
    '  docker-authz --version',
    '',
    'Configuration: the environment, over the env file AUTHZ_ENV_FILE (default /etc/docker-authz/authz.env).',
    'Exit codes: 0 ok, 1 failed or found a problem, 2 usage error, 3 the running plugin could not be reached.',
  ].join('\n');
}

/** Finds the command `argv` names: the longest name (`hello reset` before `hello`) that matches. */
function findCommand(argv: readonly string[]): { cmd: Command; rest: readonly string[] } | undefined {
  let best: { cmd: Command; rest: readonly string[] } | undefined;
  for (const cmd of COMMANDS) {
    const words = cmd.name.split(' ');
    if (words.every((w, i) => argv[i] === w) && (!best || words.length > best.cmd.name.split(' ').length)) {
      best = { cmd, rest: argv.slice(words.length) };
    }
  }
  return best;
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

const consoleIo: Io = { out: (t) => console.log(t), err: (t) => console.error(t) };

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, io: Io = consoleIo): Promise<number> {
  const [first] = argv;
  if (first === undefined) {
    io.err(usage());
    return EXIT.USAGE;
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    io.out(usage());
    return EXIT.OK;
  }
  if (first === '--version' || first === '-V' || first === 'version') {
    io.out(`docker-authz ${VERSION}`);
    return EXIT.OK;
  }
  const found = findCommand(argv);
  if (!found) {
    io.err(`docker-authz: unknown command ${JSON.stringify(argv.filter((a) => !a.startsWith('-')).join(' '))}\n\n${usage()}`);
    return EXIT.USAGE;
  }
  const { cmd, rest } = found;
  try {
    const parsed = parseCommand(cmd, rest);
    if (parsed.help) {
      io.out(helpText(cmd));
      return EXIT.OK;
    }
    return await cmd.run({ values: parsed.values, positionals: parsed.positionals, config: lazyConfig(env), out: io.out, err: io.err });
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`docker-authz: ${err.message}\nusage: ${usageLine(cmd)} (see docker-authz ${cmd.name} --help)`);
      return EXIT.USAGE;
    }
    io.err(`docker-authz: ${isCodedError(err) ? `[${err.code}] ` : ''}${err instanceof Error ? err.message : String(err)}`);
    return EXIT.FAILED;
  }
}
