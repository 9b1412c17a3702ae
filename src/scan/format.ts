import type { ScannedObject, ScanReport } from './scan.js';

// What to do about each kind of object the policy would refuse. The plugin judges requests: an
// existing object keeps what it was given until it is removed.
const FIX: Readonly<Record<ScannedObject['kind'], (name: string) => string>> = {
  container: (name) => `docker rm -f ${name}, then recreate it within the policy`,
  volume: (name) => `move its data if needed, then docker volume rm ${name}`,
  network: (name) => `disconnect its containers, then docker network rm ${name}`,
};

const WHY: Readonly<Record<ScannedObject['kind'], string>> = {
  container:
    'Containers: the plugin judges creates, not existing containers. With the ownership rule, a container made before ' +
    "the plugin is for administrators only (and one adopted by a user cannot be started, exec'd, copied from or " +
    'joined by them); without it, anyone who can use the daemon can start it, exec into it, copy files in and out, ' +
    'and join it (--volumes-from, --network/--pid container:NAME, a build with --network container:NAME).',
  volume:
    'Volumes: without the ownership rule, any container can mount one by name (-v NAME:/path) and get the host access ' +
    'it was made with; with it, only administrators can.',
  network:
    'Networks: without the ownership rule, any container can join one by name (--network NAME) and reach what the ' +
    'network reaches; with it, only administrators can.',
};

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The report as text for a terminal or the installer's output. */
export function formatScan(report: ScanReport): string {
  const lines: string[] = [];
  const { containers, volumes, networks } = report.checked;
  lines.push(`docker-authz scan of ${report.dockerHost} with policy ${report.policy}`);
  lines.push(`checked ${plural(containers, 'container')}, ${plural(volumes, 'volume')}, ${plural(networks, 'network')}`);
  const count = (kind: ScannedObject['kind']) => report.refused.filter((o) => o.kind === kind).length;
  if (report.refused.length === 0) {
    lines.push('nothing found: the policy would allow every existing container, volume and network as it is');
  } else {
    lines.push(
      `the policy would refuse to create ${plural(count('container'), 'container')}, ${plural(count('volume'), 'volume')} ` +
        `and ${plural(count('network'), 'network')} that already exist:`,
    );
    for (const o of report.refused) {
      lines.push('', `${o.kind} ${JSON.stringify(o.name)} (${o.id.slice(0, 12)}${o.detail ? `, ${o.detail}` : ''})`);
      for (const f of o.findings) lines.push(`  - ${f.rule}: ${f.field} ${f.reason}`);
      lines.push(`  fix: ${FIX[o.kind](o.name)}`);
    }
    lines.push('');
    for (const kind of ['container', 'volume', 'network'] as const) if (count(kind) > 0) lines.push(WHY[kind]);
  }
  for (const u of report.unreadable) lines.push(`could not judge ${u.kind} ${JSON.stringify(u.name)}: ${u.message}`);
  return `${lines.join('\n')}\n`;
}
