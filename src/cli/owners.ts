import { ObjectStore, type ObjectKind, type ObjectRecord } from '../state/objects.js';
import { withState } from './with-state.js';
import { EXIT, UsageError, type Command, type CommandContext } from './command.js';

const KINDS: readonly ObjectKind[] = ['container', 'volume', 'network', 'exec'];

const withObjects = <T>(ctx: CommandContext, fn: (o: ObjectStore) => T): T => withState(ctx, (state) => fn(new ObjectStore(state)));

function kindOption(ctx: CommandContext): ObjectKind | undefined {
  const kind = ctx.values.kind as string | undefined;
  if (kind !== undefined && !KINDS.includes(kind as ObjectKind)) throw new UsageError(`--kind must be one of ${KINDS.join(', ')}`);
  return kind as ObjectKind | undefined;
}

const shortId = (r: ObjectRecord) => (r.kind === 'volume' ? r.id : r.id.slice(0, 12));

export const ownersCommand: Command = {
  name: 'owners',
  summary: 'List the containers, volumes, networks and execs the plugin knows, and whose each one is.',
  description:
    'Owners are recorded when the daemon confirms a create. "(unknown)": made before the plugin was installed or while it was\n' +
    'off; only administrators may use it until `docker-authz owners adopt` gives it to someone. Reads the state database.',
  options: {
    kind: { type: 'string', valueName: 'KIND', description: `only this kind (${KINDS.join(', ')})` },
    format: { type: 'string', valueName: 'text|json', default: 'text', description: 'output format' },
  },
  run(ctx) {
    const records = withObjects(ctx, (o) => o.list(kindOption(ctx)));
    if (ctx.values.format === 'json') {
      ctx.out(
        JSON.stringify(
          records.map(({ config, ...r }) => ({ ...r, judgedBySettings: config !== null })),
          null,
          2,
        ),
      );
    } else if (records.length === 0) ctx.out('no objects are recorded');
    else for (const r of records) ctx.out(`${r.kind}\t${shortId(r)}\t${r.name ?? '-'}\t${r.owner ?? '(unknown)'}`);
    return EXIT.OK;
  },
};

export const ownersAdoptCommand: Command = {
  name: 'owners adopt',
  args: 'REF USER',
  summary: 'Give an object whose owner is unknown to USER (REF: a name, an ID or a unique ID prefix).',
  description:
    'A container adopted this way is still judged by its settings: one the policy would refuse to create cannot be started,\n' +
    "exec'd, copied from or joined by its new owner. --force takes an object from its owner.",
  options: {
    kind: { type: 'string', valueName: 'KIND', default: 'container', description: `the kind of REF (${KINDS.join(', ')})` },
    force: { type: 'boolean', description: 'also take it from an owner it has' },
  },
  positionals: { min: 2, max: 2 },
  run(ctx) {
    const [ref, user] = ctx.positionals as [string, string];
    const kind = kindOption(ctx) ?? 'container';
    return withObjects(ctx, (objects) => {
      const found =
        kind === 'container'
          ? objects.container(ref)
          : kind === 'network'
            ? objects.network(ref)
            : kind === 'exec'
              ? objects.exec(ref)
              : ((v) =>
                  v && v !== 'unreadable'
                    ? { ok: true as const, record: v }
                    : { ok: false as const, why: `no volume ${JSON.stringify(ref)} is known` })(objects.volume(ref));
      if (!found.ok) {
        ctx.err(`owners adopt: ${found.why}`);
        return EXIT.FAILED;
      }
      const { record } = found;
      if (!objects.adopt(kind, record.id, user, ctx.values.force === true)) {
        ctx.err(`owners adopt: ${kind} ${record.name ?? record.id} belongs to ${record.owner}; use --force to take it from them`);
        return EXIT.FAILED;
      }
      ctx.out(`${kind} ${record.name ?? shortId(record)} now belongs to ${user}`);
      return EXIT.OK;
    });
  },
};
