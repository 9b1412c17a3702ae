import { firstInViews, quote, type CheckFactory } from './check.js';

export const devices: CheckFactory<'devices'> = () =>
  function checkDevices(req) {
    return firstInViews(req, ({ prefix, hc }) => {
      const device = hc.Devices?.[0];
      if (device) return { field: `${prefix}Devices[0]`, reason: `${quote(device.PathOnHost ?? '')} exposes a host device` };
      const rule = hc.DeviceCgroupRules?.[0];
      if (rule !== undefined) return { field: `${prefix}DeviceCgroupRules[0]`, reason: `${quote(rule)} grants access to host devices` };
      if (hc.DeviceRequests?.length) {
        return {
          field: `${prefix}DeviceRequests[0]`,
          reason: `requests host devices (driver ${quote(hc.DeviceRequests[0]!.Driver ?? '')})`,
        };
      }
      return undefined;
    });
  };
