import t from 'tap';
import {
  cidrContains,
  embeddedIPv4,
  formatCidr,
  formatIP,
  hostItself,
  parseCidr,
  parseInetAton,
  parseIP,
  parseIPv4,
  parseIPv6,
} from '../../../src/policy/ip.js';

const v4 = (s: string) => formatIP(parseIP(s)!);

t.test("IPv4 as Go's net.ParseIP reads it: four decimal parts, no leading zeros", async (t) => {
  t.equal(v4('127.0.0.1'), '127.0.0.1');
  t.equal(v4('255.255.255.255'), '255.255.255.255');
  for (const bad of [
    '127.1',
    '2130706433',
    '0177.0.0.1',
    '0x7f.0.0.1',
    '127.0.0.01',
    '256.0.0.1',
    '1.2.3',
    '1.2.3.4.5',
    ' 1.2.3.4',
    '1.2.3.4 ',
    '',
  ]) {
    t.equal(parseIPv4(bad), undefined, JSON.stringify(bad));
  }
});

t.test("IPv4 as the C library's inet_aton reads it: the spellings a cgo resolver accepts", async (t) => {
  const loose = (s: string) => {
    const a = parseInetAton(s);
    return a && formatIP(a);
  };
  for (const s of ['127.0.0.1', '127.1', '127.0.1', '2130706433', '0x7f000001', '0x7F.1', '0177.0.0.1', '0177.1', '017700000001'])
    t.equal(loose(s), '127.0.0.1', s);
  t.equal(loose('0'), '0.0.0.0');
  t.equal(loose('0x'), '0.0.0.0', 'a bare 0x is 0 in glibc');
  t.equal(loose('10.1.0x100'), '10.1.1.0', 'the last of three parts fills 16 bits');
  t.equal(loose('10.1.0x10000'), undefined, 'but no more');
  for (const bad of ['256.1', '1.256.1', '08', '0x1g', '1..2', '', 'a.b.c.d', '4294967296', '1.2.3.4.5', 'localhost'])
    t.equal(loose(bad), undefined, JSON.stringify(bad));
});

t.test('IPv6 as net.ParseIP reads it', async (t) => {
  const v6 = (s: string) => {
    const a = parseIPv6(s);
    return a && formatIP(a);
  };
  t.equal(v6('::1'), '::1');
  t.equal(v6('::'), '::');
  t.equal(v6('0:0:0:0:0:0:0:1'), '::1');
  t.equal(v6('FD00::0001'), 'fd00::1');
  t.equal(v6('::ffff:127.0.0.1'), '::ffff:7f00:1');
  t.equal(v6('1:2:3:4:5:6:7:8'), '1:2:3:4:5:6:7:8');
  for (const bad of ['1:2:3:4:5:6:7', '1::2::3', '12345::', '::1%lo', '[::1]', '::ffff:127.1', ':::', '1:2:3:4:5:6:7:8:9', '1.2.3.4'])
    t.equal(parseIPv6(bad), undefined, bad);
});

t.test('CIDR blocks are masked and compared by containment, per family', async (t) => {
  t.equal(formatCidr(parseCidr('10.1.2.3/8')!), '10.0.0.0/8', 'host bits do not change the block');
  t.equal(formatCidr(parseCidr('fd00:1::5/32')!), 'fd00:1::/32');
  for (const bad of ['10.0.0.0', '10.0.0.0/33', '::/129', '10.0.0.0/-1', '10.0.0.0/8/8', 'x/8', '10.0.0.0/ 8'])
    t.equal(parseCidr(bad), undefined, bad);
  const pool = parseCidr('10.10.0.0/16')!;
  t.ok(cidrContains(pool, parseCidr('10.10.5.0/24')!));
  t.ok(cidrContains(pool, parseCidr('10.10.0.0/16')!), 'a block contains itself');
  t.notOk(cidrContains(pool, parseCidr('10.0.0.0/8')!), 'a bigger block is not inside');
  t.notOk(cidrContains(pool, parseCidr('10.11.0.0/24')!));
  t.notOk(cidrContains(pool, parseCidr('::ffff:10.10.0.0/120')!), 'families never mix');
  t.ok(cidrContains(parseCidr('fd00::/8')!, parseCidr('fd12:3456::/64')!));
  t.ok(cidrContains(parseCidr('0.0.0.0/0')!, parseCidr('1.2.3.4/32')!));
});

t.test('addresses that reach the host itself', async (t) => {
  for (const s of ['127.0.0.1', '127.255.0.9', '0.0.0.0', '0.1.2.3', '::1', '::', '::ffff:127.0.0.1', '::127.0.0.1', '::ffff:0.0.0.0'])
    t.ok(hostItself(parseIP(s)!), s);
  for (const s of ['10.0.0.1', '192.0.2.2', 'fd00::2', '::ffff:10.0.0.1', '128.0.0.1']) t.notOk(hostItself(parseIP(s)!), s);
  t.same(embeddedIPv4(parseIP('::ffff:1.2.3.4')!), parseIP('1.2.3.4'));
  t.equal(embeddedIPv4(parseIP('::1')!), undefined);
  t.equal(embeddedIPv4(parseIP('1.2.3.4')!), undefined);
});
