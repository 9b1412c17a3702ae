import t from 'tap';
import { decodeStruct } from '../../../src/request/go-decode.js';
import { jsonNodeOf } from '../../../src/request/json-value.js';
import { parseJson } from '../../../src/request/json-parse.js';

t.test('a parsed value becomes the same tree the request parser builds', async (t) => {
  const text = '{"a":[1,true,null,"x"],"b":{"c":-2.5}}';
  t.same(jsonNodeOf(JSON.parse(text)), parseJson(text).value);
  t.same(jsonNodeOf(undefined), { t: 'null' });
  t.throws(() => jsonNodeOf(() => 1), TypeError);
  t.same(
    decodeStruct(jsonNodeOf({ privileged: true }), { struct: { Privileged: 'bool' } }, ''),
    { Privileged: true },
    'and decodes with Go rules',
  );
});
