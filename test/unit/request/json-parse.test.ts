import fc from 'fast-check';
import t from 'tap';
import { MAX_DEPTH, parseJson, type JsonNode } from '../../../src/request/json-parse.js';

// Back to a plain value (last duplicate wins, like JSON.parse) to compare with the platform parser.
function plain(n: JsonNode): unknown {
  switch (n.t) {
    case 'null':
      return null;
    case 'bool':
      return n.v;
    case 'num':
      return Number(n.raw);
    case 'str':
      return n.v;
    case 'arr':
      return n.items.map(plain);
    case 'obj': {
      const o: Record<string, unknown> = {};
      for (const [k, v] of n.entries)
        Object.defineProperty(o, k, { value: plain(v), enumerable: true, configurable: true, writable: true });
      return o;
    }
  }
}

t.test('agrees with JSON.parse on any JSON value', async (t) => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      const text = JSON.stringify(v);
      t.same(plain(parseJson(text).value), JSON.parse(text));
    }),
    { numRuns: 300 },
  );
});

t.test('keeps duplicate keys in order', async (t) => {
  const { value } = parseJson('{"Privileged":true,"privileged":false,"Privileged":1}');
  t.same(value.t === 'obj' && value.entries.map(([k]) => k), ['Privileged', 'privileged', 'Privileged']);
});

t.test('decodes escapes, including Go-style \\u0026 and surrogate pairs', async (t) => {
  t.same(plain(parseJson('"a\\u0026b\\u003c\\ud83d\\ude00\\n"').value), 'a&b<\u{1F600}\n');
});

t.test('reports trailing data instead of hiding it', async (t) => {
  t.equal(parseJson('{"a":1}\n').rest, '');
  t.equal(parseJson('{"a":1} {"a":2}').rest, '{"a":2}');
  t.equal(parseJson('01').rest, '1', 'a leading zero ends the number, as in Go');
});

t.test('rejects malformed JSON with a coded error', async (t) => {
  for (const bad of ['', '{', '{"a"}', '[1,]', '{"a":1,}', "{'a':1}", '"\u0001"', 'tru', '-', '{"a":-}', '"\\x"']) {
    t.throws(() => parseJson(bad), { code: 'AUTHZ_BODY_INVALID' }, JSON.stringify(bad));
  }
});

t.test('bounds nesting depth instead of overflowing the stack', async (t) => {
  t.throws(() => parseJson('['.repeat(MAX_DEPTH + 2) + ']'.repeat(MAX_DEPTH + 2)), { code: 'AUTHZ_BODY_INVALID' });
  t.throws(() => parseJson('['.repeat(200000)), { code: 'AUTHZ_BODY_INVALID' });
  t.doesNotThrow(() => parseJson('['.repeat(50) + ']'.repeat(50)));
});
