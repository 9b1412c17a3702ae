import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { main } from '../../../src/cli/main.js';
import { SCAN_TIMEOUT_MS } from '../../../src/scan/scan.js';

async function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { AUTHZ_ENV_FILE: '' }, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** A daemon that answers /info and every list but /volumes, which it never answers (a dead plugin socket). */
async function stuckDaemon(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'scan-'));
  const socket = join(dir, 'd.sock');
  const server = http.createServer((req, res) => {
    if (req.url === '/volumes') return;
    res.end(req.url === '/info' ? '{"CgroupVersion":"1"}' : '[]');
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });
  return socket;
}

t.test('scan --timeout: seconds above 0, 60 by default', async (t) => {
  t.equal(SCAN_TIMEOUT_MS, 60_000);
  t.match(await run(['scan', '--help']), {
    code: 0,
    out: /--timeout SECONDS +how long to wait for each of the daemon's answers \(default 60\)/,
  });
  for (const bad of ['0', '-1', 'soon', '']) {
    t.match(await run(['scan', `--timeout=${bad}`]), { code: 2, err: /--timeout must be a number of seconds above 0/ }, `--timeout=${bad}`);
  }
});

t.test('scan --timeout bounds each daemon read; running out exits 3 and says what to try', async (t) => {
  const socket = await stuckDaemon(t);
  const r = await run(['scan', '--host', `unix://${socket}`, '--timeout', '0.2']);
  t.equal(r.code, 3, 'the daemon could not be read');
  t.match(r.err, `scan: GET /volumes on ${socket}: no answer within 200 ms`);
  t.match(r.err, 'may need a longer --timeout');
  t.equal(r.out, '', 'no report');
});
