import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { createSink } from '../../../src/log/sink.js';

t.test('lines are batched into a file and drained on request', async (t) => {
  const file = join(t.testdir({}), 'out.log');
  const fd = openSync(file, 'w');
  t.teardown(() => closeSync(fd));
  const sink = createSink({ fd, intervalMs: 1000 });
  for (let i = 0; i < 100; i++) sink.write(`{"n":${i}}\n`);
  await sink.drain(5000);
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  t.equal(lines.length, 100);
  t.equal(lines[99], '{"n":99}');
  t.equal(sink.dropped, 0);
});

t.test('a reader that falls behind costs lines, counted, never a wait; the count is reported once it reads again', async (t) => {
  // A pipe nobody reads: the kernel buffer fills, then the pending bytes reach the cap.
  const { spawn } = await import('node:child_process');
  const reader = spawn('sh', ['-c', 'read x; cat'], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => reader.kill('SIGKILL'));
  // The child's stdin is our pipe's write end: write to it through its fd.
  const fd = (reader.stdin as unknown as { _handle: { fd: number } })._handle.fd;
  const sink = createSink({
    fd,
    intervalMs: 1,
    batchBytes: 1024,
    maxPendingBytes: 64 * 1024,
    dropReport: (count, total) => `{"dropped":${count},"total":${total}}\n`,
  });
  const line = `${JSON.stringify({ pad: 'x'.repeat(200) })}\n`;
  const started = process.hrtime.bigint();
  for (let i = 0; i < 20_000; i++) sink.write(line);
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  t.ok(sink.dropped > 0, `lines were dropped (${sink.dropped})`);
  t.comment(`20000 writes to a stalled pipe took ${elapsedMs.toFixed(1)} ms`);
  // Let the reader read: it consumes everything, the next batch carries the report.
  let out = '';
  reader.stdout.on('data', (d: Buffer) => (out += d.toString()));
  reader.stdin.write('go\n');
  await sink.drain(10_000);
  sink.write('{"after":true}\n');
  await sink.drain(10_000);
  await new Promise<void>((resolve) => {
    const check = () => (out.includes('"after":true') ? resolve() : setTimeout(check, 10));
    check();
  });
  t.match(out, new RegExp(`\\{"dropped":\\d+,"total":${sink.dropped}\\}\\n\\{"after":true\\}`), 'the report precedes the next lines');
});
