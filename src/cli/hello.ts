import { Greetings } from '../state/greetings.js';
import { withState } from './with-state.js';
import { EXIT, UsageError, type Command, type CommandContext } from './command.js';

const withGreetings = <T>(ctx: CommandContext, fn: (o: Greetings) => T): T => withState(ctx, (state) => fn(new Greetings(state)));

export const helloStatusCommand: Command = {
  name: 'hello status',
  summary: 'List who has said hello, and when.',
  options: { format: { type: 'string', valueName: 'text|json', default: 'text', description: 'output format' } },
  run(ctx) {
    const greeted = withGreetings(ctx, (g) => g.list());
    if (ctx.values.format === 'json') ctx.out(JSON.stringify(greeted, null, 2));
    else if (greeted.length === 0) ctx.out('nobody has said hello yet');
    else for (const g of greeted) ctx.out(`${g.identity}\t${g.at}`);
    return EXIT.OK;
  },
};

export const helloResetCommand: Command = {
  name: 'hello reset',
  summary: 'Forget greetings: these identities must say hello again.',
  description: 'Identities are TLS user names, or "@anonymous" for callers on the daemon\'s unix socket.',
  options: {
    user: { type: 'string', multiple: true, valueName: 'NAME', description: 'forget this identity (repeatable)' },
    all: { type: 'boolean', description: 'forget everyone' },
  },
  run(ctx) {
    const users = ctx.values.user as string[] | undefined;
    const all = ctx.values.all === true;
    if ((users === undefined) === !all) throw new UsageError('hello reset: give --user NAME (repeatable) or --all');
    const forgotten = withGreetings(ctx, (g) => g.reset(all ? undefined : users));
    ctx.out(forgotten.length ? `forgot: ${forgotten.join(', ')}` : 'nothing to reset');
    return EXIT.OK;
  },
};
