import t from 'tap';
import { MAX_ENVELOPE_DEPTH, parseEnvelope } from '../../../src/protocol/envelope.js';

t.test('reads what the daemon sends', async (t) => {
  const env = parseEnvelope('{"RequestMethod":"GET","RequestUri":"/_ping","RequestHeaders":{"User-Agent":"x [{ \\" ]}"}}\n');
  t.match(env, { RequestMethod: 'GET', RequestHeaders: { 'User-Agent': 'x [{ " ]}' } });
});

t.test('refuses what cannot be a call: empty (a retry), not JSON, not an object', async (t) => {
  t.match(parseEnvelope(''), /empty request/);
  t.match(parseEnvelope(' \n'), /empty request/);
  t.match(parseEnvelope('{"a":'), /not valid JSON/);
  t.match(parseEnvelope('[]'), /not a JSON object/);
  t.match(parseEnvelope('null'), /not a JSON object/);
});

t.test('deep nesting is refused before it is parsed, however it is spelled', async (t) => {
  const deep = (n: number) => `{"RequestMethod":"GET","X":${'['.repeat(n)}${']'.repeat(n)}}`;
  t.type(parseEnvelope(deep(MAX_ENVELOPE_DEPTH - 1)), 'object', 'within the limit');
  t.match(parseEnvelope(deep(MAX_ENVELOPE_DEPTH)), /nests deeper than/);
  // Millions of brackets: refused by a linear scan (JSON.parse would take seconds and gigabytes).
  t.match(parseEnvelope(deep(4_000_000)), /nests deeper than/);
  t.match(parseEnvelope(`{"X":${'{"a":'.repeat(100)}1${'}'.repeat(100)}}`), /nests deeper than/);
  // Brackets inside strings (escaped quotes included) do not count.
  const inString = `{"RequestUri":"${'[{'.repeat(1000)}\\"${'[{'.repeat(1000)}"}`;
  t.type(parseEnvelope(inString), 'object');
});
