import { isCodedError } from '../errors.js';
import { VERSION } from '../version.js';
import { EXIT, helpText, lazyConfig, parseCommand, UsageError, usageLine, type Command } from './command.js';

/**
 * Every command, in the order `docker-authz --help` lists them. Each is loaded when it runs, so
 * `serve` starts without loading what only other commands need.
 */
export const COMMANDS: readonly { readonly name: string; readonly summary: string; load(): Promise<Command> }[] = [
  { name: 'serve', summary: 'Run the plugin in the foreground.', load: async () => (await import('./serve.js')).serveCommand },
  { name: 'check', summary: 'Validate policy files, like nginx -t.', load: async () => (await import('./check.js')).checkCommand },
  {
    name: 'explain',
    summary: 'Decide one request offline against a policy, rule by rule.',
    load: async () => (await import('./explain.js')).explainCommand,
  },
  {
    name: 'test',
    summary: 'Run policy test cases (YAML): expected decisions for requests.',
    load: async () => (await import('./policy-test.js')).testCommand,
  },
  { name: 'reload', summary: 'Make the running plugin re-read its policy.', load: async () => (await import('./reload.js')).reloadCommand },
  {
    name: 'status',
    summary: 'What the running plugin serves, and whether all is well.',
    load: async () => (await import('./status.js')).statusCommand,
  },
  { name: 'hello status', summary: 'Who has said hello.', load: async () => (await import('./hello.js')).helloStatusCommand },
  { name: 'hello reset', summary: 'Forget greetings.', load: async () => (await import('./hello.js')).helloResetCommand },
  {
    name: 'users init',
    summary: "Create the users' CA and the daemon's TLS certificate.",
    load: async () => (await import('./users.js')).usersInitCommand,
  },
  {
    name: 'users add',
    summary: 'Give a Unix user a certificate and a Docker socket of their own.',
    load: async () => (await import('./users.js')).usersAddCommand,
  },
  {
    name: 'users remove',
    summary: "Revoke a user's certificate and socket.",
    load: async () => (await import('./users.js')).usersRemoveCommand,
  },
  { name: 'users list', summary: 'Users, sockets, expiry, groups.', load: async () => (await import('./users.js')).usersListCommand },
  { name: 'users renew', summary: 'Renew certificates due for renewal.', load: async () => (await import('./users.js')).usersRenewCommand },
  {
    name: 'scan',
    summary: 'Existing containers, volumes and networks the policy would refuse.',
    load: async () => (await import('./scan.js')).scanCommand,
  },
  { name: 'owners', summary: 'Objects and their owners.', load: async () => (await import('./owners.js')).ownersCommand },
  {
    name: 'owners adopt',
    summary: 'Give an object without a known owner to a user.',
    load: async () => (await import('./owners.js')).ownersAdoptCommand,
  },
  { name: 'gateway', summary: 'Run the user gateway in the foreground.', load: async () => (await import('./gateway.js')).gatewayCommand },
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
    'Exit codes: 0 ok, 1 failed, found a problem or (explain) denied, 2 usage error, 3 the running plugin, the daemon',
    'or an input file could not be reached or read. Every command: docs/cli.md.',
  ].join('\n');
}

/** Finds the command `argv` names: the longest name (`hello reset` before `hello`) that matches. */
function findCommand(argv: readonly string[]): { entry: (typeof COMMANDS)[number]; rest: readonly string[] } | undefined {
  let best: { entry: (typeof COMMANDS)[number]; rest: readonly string[] } | undefined;
  for (const entry of COMMANDS) {
    const words = entry.name.split(' ');
    if (words.every((w, i) => argv[i] === w) && (!best || words.length > best.entry.name.split(' ').length)) {
      best = { entry, rest: argv.slice(words.length) };
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
    const group = COMMANDS.filter((c) => c.name.startsWith(`${first} `));
    if (group.length > 0) {
      const list = group.map((c) => `  docker-authz ${c.name.padEnd(14)} ${c.summary}`).join('\n');
      const help = argv.includes('--help') || argv.includes('-h');
      (help ? io.out : io.err)(`usage: docker-authz ${first} <command> [options]\n\n${list}`);
      return help ? EXIT.OK : EXIT.USAGE;
    }
    io.err(`docker-authz: unknown command ${JSON.stringify(argv.filter((a) => !a.startsWith('-')).join(' '))}\n\n${usage()}`);
    return EXIT.USAGE;
  }
  const cmd = await found.entry.load();
  const { rest } = found;
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
