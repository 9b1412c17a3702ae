import t from 'tap';
import { containerCreateShape, execCreateShape, volumeCreateShape } from '../../../src/request/docker-shapes.js';
import { decodeStruct } from '../../../src/request/go-decode.js';
import { parseJson } from '../../../src/request/json-parse.js';

const decode = (text: string, shape = containerCreateShape) => decodeStruct(parseJson(text).value, shape, '');

t.test('matches keys case-insensitively, as encoding/json does', async (t) => {
  t.equal(decode('{"privileged":true}').Privileged, true);
  t.equal(decode('{"PRIVILEGED":true}').Privileged, true);
  const inner = decode('{"hostconfig":{"BINDS":["/:/host"]}}').HostConfig as { Binds: string[] };
  t.same(inner.Binds, ['/:/host']);
});

t.test('refuses keys that reach a field only through Unicode folding', async (t) => {
  // 'ſ' (U+017F) folds to 's', 'K' (U+212A, Kelvin) to 'k', 'ı' to 'i' in some Go versions.
  t.throws(() => decode('{"HostConfig":{"Binds":[],"Privileged":false},"HoſtConfig":{}}'), { code: 'AUTHZ_BODY_AMBIGUOUS' });
  t.throws(() => decode('{"Prıvileged":true}'), { code: 'AUTHZ_BODY_AMBIGUOUS' });
  t.throws(() => decode('{"HostConfig":{"CapAdd":[],"\u212Aernel":1,"Capabilities":null,"Devices":[],"Privıleged":true}}'), {
    code: 'AUTHZ_BODY_AMBIGUOUS',
  });
});

t.test('refuses a field given twice, whatever the spelling', async (t) => {
  t.throws(() => decode('{"Privileged":true,"Privileged":false}'), { code: 'AUTHZ_BODY_AMBIGUOUS' });
  t.throws(() => decode('{"HostConfig":{"Privileged":true,"privileged":false}}'), {
    code: 'AUTHZ_BODY_AMBIGUOUS',
    message: /HostConfig\.Privileged/,
  });
  t.throws(() => decode('{"HostConfig":{},"hostConfig":{"Privileged":true}}'), { code: 'AUTHZ_BODY_AMBIGUOUS' });
});

t.test('null leaves a bool alone and clears pointers, slices and maps', async (t) => {
  t.notOk('Privileged' in decode('{"Privileged":null}'), 'null on a bool is a no-op');
  const d = decode('{"HostConfig":null,"Binds":null}');
  t.ok('HostConfig' in d && d.HostConfig === undefined);
  t.ok('Binds' in d && d.Binds === undefined);
});

t.test('a value of the wrong type is refused, as the daemon refuses it', async (t) => {
  t.throws(() => decode('{"HostConfig":{"Privileged":"true"}}'), {
    code: 'AUTHZ_BODY_INVALID',
    message: /HostConfig\.Privileged is a JSON string/,
  });
  t.throws(() => decode('{"HostConfig":{"Binds":"/:/host"}}'), { code: 'AUTHZ_BODY_INVALID' });
  t.throws(() => decode('{"HostConfig":[]}'), { code: 'AUTHZ_BODY_INVALID' });
  t.throws(() => decode('[]'), { code: 'AUTHZ_BODY_INVALID' });
  t.throws(() => decode('{"Privileged":1}', execCreateShape), { code: 'AUTHZ_BODY_INVALID' });
});

t.test('unknown keys are ignored, as Go ignores them', async (t) => {
  t.same(decode('{"Hostname":"x","Env":["SECRET=1"]}'), {});
});

t.test('map keys are exact and the later duplicate wins', async (t) => {
  const v = decode('{"DriverOpts":{"o":"ro","o":"bind","O":"x"}}', volumeCreateShape);
  const opts = v.DriverOpts as Map<string, string>;
  t.equal(opts.get('o'), 'bind');
  t.equal(opts.get('O'), 'x');
});

t.test('property: any ASCII casing of a field name reaches that field; two spellings are refused', async (t) => {
  const fc = (await import('fast-check')).default;
  const names = ['Privileged', 'Binds', 'CapAdd', 'PidMode', 'SecurityOpt', 'Devices', 'Mounts', 'NetworkMode'];
  const values: Record<string, unknown> = {
    Privileged: true,
    Binds: ['/:/h'],
    CapAdd: ['ALL'],
    PidMode: 'host',
    SecurityOpt: ['x'],
    Devices: [],
    Mounts: [],
    NetworkMode: 'host',
  };
  const casing = (name: string) =>
    fc
      .array(fc.boolean(), { minLength: name.length, maxLength: name.length })
      .map((flips) => [...name].map((c, i) => (flips[i] ? c.toUpperCase() : c.toLowerCase())).join(''));
  fc.assert(
    fc.property(
      fc.constantFrom(...names).chain((n) => fc.tuple(fc.constant(n), casing(n), casing(n))),
      ([name, a, b]) => {
        const one = decode(JSON.stringify({ HostConfig: { [a]: values[name] } }));
        t.same((one.HostConfig as Record<string, unknown>)[name], values[name]);
        const twice = `{"HostConfig":{${JSON.stringify(a)}:${JSON.stringify(values[name])},${JSON.stringify(b)}:${JSON.stringify(values[name])}}}`;
        t.throws(() => decode(twice), { code: 'AUTHZ_BODY_AMBIGUOUS' });
      },
    ),
    { numRuns: 200 },
  );
});
