import { firstInViews, flagged, quote, shown, type CheckFactory } from './check.js';

export const devices: CheckFactory<'devices'> = () =>
  function checkDevices(req) {
    return firstInViews(req, ({ prefix, hc }) => {
      const device = hc.Devices?.[0];
      if (device) {
        return { field: flagged(`--device ${shown(device.PathOnHost ?? '')}`, prefix, 'Devices[0]'), reason: 'exposes a host device' };
      }
      const rule = hc.DeviceCgroupRules?.[0];
      if (rule !== undefined) {
        return {
          field: flagged(`--device-cgroup-rule ${quote(rule)}`, prefix, 'DeviceCgroupRules[0]'),
          reason: 'grants access to host devices',
        };
      }
      if (hc.DeviceRequests?.length) {
        return {
          field: flagged('--gpus', prefix, 'DeviceRequests[0]'),
          reason: `requests host devices${hc.DeviceRequests[0]!.Driver ? ` (driver ${quote(hc.DeviceRequests[0]!.Driver)})` : ''}`,
        };
      }
      return undefined;
    });
  };
