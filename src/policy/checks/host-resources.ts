import type { BlkioDeviceFields, HostConfigFields, UlimitFields } from '../../request/types.js';
import { firstInViews, quote, type CheckFactory, type Violation } from './check.js';

const BLKIO = [
  ['BlkioWeightDevice', '--blkio-weight-device'],
  ['BlkioDeviceReadBps', '--device-read-bps'],
  ['BlkioDeviceWriteBps', '--device-write-bps'],
  ['BlkioDeviceReadIOps', '--device-read-iops'],
  ['BlkioDeviceWriteIOps', '--device-write-iops'],
] as const satisfies readonly (readonly [keyof HostConfigFields, string])[];

export const hostResources: CheckFactory<'host-resources'> = (rule) => {
  // The daemon names the limit "RLIMIT_" + strings.ToUpper(Name): any case is the same limit.
  const caps = new Map(Object.entries(rule.maxUlimits).map(([name, max]) => [name.toUpperCase(), max]));
  const capText = Object.entries(rule.maxUlimits)
    .map(([n, m]) => `${n}=${m}`)
    .join(', ');

  function ulimits(prefix: string, list: readonly (UlimitFields | undefined)[] | undefined): Violation | undefined {
    for (let i = 0; i < (list?.length ?? 0); i++) {
      const u = list![i];
      const max = u && caps.get((u.Name ?? '').toUpperCase());
      if (u === undefined || max === undefined) continue;
      for (const key of ['Hard', 'Soft'] as const) {
        const v = u[key] ?? 0;
        // A negative value is RLIM_INFINITY once converted to the kernel's unsigned limit.
        if (v < 0 || v > max) {
          return {
            field: `--ulimit ${u.Name} (${prefix}Ulimits[${i}].${key})`,
            reason: `${v < 0 ? `${v} (unlimited)` : v} is above the allowed maximum (${capText})`,
          };
        }
      }
    }
    return undefined;
  }

  function blkio(prefix: string, hc: HostConfigFields): Violation | undefined {
    for (const [key, flag] of BLKIO) {
      const devices = hc[key] as readonly (BlkioDeviceFields | undefined)[] | undefined;
      const i = devices?.findIndex((d) => d !== undefined) ?? -1;
      if (i === -1) continue;
      return {
        field: `${flag} (${prefix}${key}[${i}].Path)`,
        reason: `${quote(devices![i]!.Path ?? '')} makes the daemon look the path up on the host, which tells the caller whether any host file exists`,
      };
    }
    return undefined;
  }

  return function checkHostResources(req) {
    const s = req.subject;
    if (s.kind === 'build') return ulimits('', s.ulimits);
    // Create reads PidsLimit 0 and -1 as "not set"; update reads them as "remove the limit".
    const update = req.op === 'container.update';
    return firstInViews(req, ({ prefix, hc }): Violation | undefined => {
      if (hc.OomScoreAdj !== undefined && hc.OomScoreAdj < rule.minOomScoreAdj) {
        return {
          field: `--oom-score-adj (${prefix}OomScoreAdj)`,
          reason: `${hc.OomScoreAdj} makes the host's own processes die first when memory runs out (minimum ${rule.minOomScoreAdj})`,
        };
      }
      if (hc.OomKillDisable === true && !rule.allowOomKillDisable) {
        return {
          field: `--oom-kill-disable (${prefix}OomKillDisable)`,
          reason: 'true keeps the kernel from killing the container when memory runs out, so the host stalls instead',
        };
      }
      const pids = hc.PidsLimit;
      const maxPids = rule.maxPidsLimit;
      if (maxPids !== undefined && pids !== undefined) {
        if (update && pids <= 0) {
          return {
            field: `--pids-limit (${prefix}PidsLimit)`,
            reason: `${pids} removes the container's process limit (maximum ${maxPids})`,
          };
        }
        if (pids > maxPids)
          return { field: `--pids-limit (${prefix}PidsLimit)`, reason: `${pids} is above the allowed maximum ${maxPids}` };
      }
      const limits = ulimits(prefix, hc.Ulimits);
      if (limits) return limits;
      if (!rule.allowRealtime) {
        for (const [key, flag] of [
          ['CpuRealtimeRuntime', '--cpu-rt-runtime'],
          ['CpuRealtimePeriod', '--cpu-rt-period'],
        ] as const) {
          const v = hc[key];
          if (v !== undefined && v !== 0) {
            return {
              field: `${flag} (${prefix}${key})`,
              reason: `${v} gives the container real-time CPU scheduling, which can starve the host`,
            };
          }
        }
      }
      return rule.allowBlkioDevices ? undefined : blkio(prefix, hc);
    });
  };
};
