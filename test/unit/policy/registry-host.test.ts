import t from 'tap';
import { matchesPattern, parseRegistryPattern, readRegistryHost, registryOnHost } from '../../../src/policy/registry-host.js';

t.test('policy entries: names, wildcards, IPs and blocks, with optional ports', async (t) => {
  t.match(parseRegistryPattern('Registry.Example.com'), { kind: 'name', name: 'registry.example.com', wildcard: false, port: undefined });
  t.match(parseRegistryPattern('*.example.com:5000'), { kind: 'name', name: 'example.com', wildcard: true, port: '5000' });
  t.match(parseRegistryPattern('10.0.0.0/8'), { kind: 'block', block: { prefix: 8 } });
  t.match(parseRegistryPattern('[fd00::]/8'), { kind: 'block', block: { v6: true, prefix: 8 } });
  t.match(parseRegistryPattern('::1'), { kind: 'block', block: { v6: true, prefix: 128 }, port: undefined });
  t.match(parseRegistryPattern('[::1]:5000'), { kind: 'block', block: { v6: true, prefix: 128 }, port: '5000' });
  t.match(parseRegistryPattern('127.0.0.1:5000'), { kind: 'block', block: { prefix: 32 }, port: '5000' });
  for (const bad of ['http://x', 'x/y', '*', '*.', 'a..b', 'x:port', 'x:123456', '-x.com', '10.0.0.0/40', ''])
    t.equal(parseRegistryPattern(bad), undefined, JSON.stringify(bad));
});

t.test('registry hosts as the daemon dials them', async (t) => {
  t.match(readRegistryHost('LocalHost.:5000'), { name: 'localhost', port: '5000', ip: undefined, anyIp: undefined });
  t.match(readRegistryHost('[::1%25lo]:5000'), { name: '::1', port: '5000', ip: { v6: true, value: 1n } });
  t.match(readRegistryHost('127.1'), { name: '127.1', ip: undefined, anyIp: { v6: false, value: 0x7f000001n } });
  const self = new Set(['buildhost']);
  const onHost = (r: string) => registryOnHost(readRegistryHost(r), self);
  t.equal(onHost('127.0.0.1:5000'), 'a loopback address');
  t.equal(onHost('localhost'), 'a name for the loopback address');
  t.equal(onHost('a.b.localhost:1'), 'a name for the loopback address');
  t.equal(onHost('ip6-loopback'), 'a name for the loopback address');
  t.equal(onHost('BUILDHOST:5000'), "this host's own name");
  t.equal(onHost('[::]:5000'), 'the unspecified address (connects to the host itself)');
  t.equal(onHost('registry.example.com'), undefined);
  t.equal(onHost('notlocalhost'), undefined);
  t.equal(onHost('10.1.2.3:5000'), undefined);
});

t.test('matching', async (t) => {
  const m = (p: string, r: string, loose = false) => matchesPattern(parseRegistryPattern(p)!, readRegistryHost(r), loose);
  t.ok(m('registry.example.com', 'REGISTRY.example.com:443'), 'no port in the entry: any port');
  t.notOk(m('registry.example.com:5000', 'registry.example.com'), 'a port in the entry must be there');
  t.ok(m('*.example.com', 'a.b.example.com'));
  t.notOk(m('*.example.com', 'example.com'));
  t.notOk(m('*.example.com', 'badexample.com'));
  t.ok(m('10.0.0.0/8', '10.1.1.1:5000'));
  t.notOk(m('10.0.0.0/8', '012.1.1.1'), 'inet_aton spellings only match when asked to (denied lists)');
  t.ok(m('10.0.0.0/8', '012.1.1.1', true));
  t.ok(m('::1', '[::1]:5000'));
});
