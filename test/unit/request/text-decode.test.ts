import fc from 'fast-check';
import t from 'tap';
import { isCodedError } from '../../../src/errors.js';
import {
  containerCreateShape,
  containerUpdateShape,
  execCreateShape,
  hostConfigShape,
  mountShape,
  volumeCreateShape,
} from '../../../src/request/docker-shapes.js';
import { decodeStruct as decodeExact, type Shape, type StructShape } from '../../../src/request/go-decode.js';
import { JsonBody } from '../../../src/request/json-body.js';
import { MAX_DEPTH, parseJson } from '../../../src/request/json-parse.js';
import { serviceSpecShape } from '../../../src/request/service-spec.js';
import { loadCorpus } from '../../helpers/corpus.js';

// The differential test of the two body decoders: for any bytes and any shape, the one-pass
// decoder the plugin runs (text-decode.ts, through JsonBody) and the reference tree decoder
// (json-parse.ts + go-decode.ts) give the same value, or the same refusal, word for word.

// A structure with many fields, and one with every kind of shape nested.
const wide: StructShape = {
  struct: Object.fromEntries(
    Array.from({ length: 40 }, (_, i) => [`Field${i}`, i % 3 === 0 ? 'bool' : i % 3 === 1 ? 'string' : { slice: 'string' }]),
  ),
};
const nested: StructShape = {
  struct: {
    Kind: 'string',
    Items: { slice: { slice: 'number' } },
    Opts: { map: { struct: { Sis: 'bool', Id: 'strslice' } } },
    Inner: { pointer: true, struct: { Kind: 'string', Wide: wide } },
    Plain: { struct: { Is: 'bool' } },
    Plains: { slice: { struct: { Is: 'bool' } } },
    Maps: { slice: { map: 'string' } },
  },
};
const SHAPES: readonly StructShape[] = [
  containerCreateShape,
  hostConfigShape,
  containerUpdateShape,
  execCreateShape,
  volumeCreateShape,
  mountShape,
  serviceSpecShape,
  wide,
  nested,
];

// ---- what each side answers ----

// A value spelled out with everything that tells two decodings apart: key order, Map order,
// present-but-undefined fields, -0, prototypes.
function canon(v: unknown): unknown {
  if (v === undefined) return { undef: true };
  if (typeof v === 'number') return Object.is(v, -0) ? { negZero: true } : Number.isFinite(v) ? v : { num: String(v) };
  if (v instanceof Map) return { map: [...v].map(([k, x]) => [k, canon(x)]) };
  if (Array.isArray(v)) return { arr: Array.from(v, canon) };
  if (v !== null && typeof v === 'object') {
    return {
      obj: Object.keys(v).map((k) => [k, canon((v as Record<string, unknown>)[k])]),
      plain: Object.getPrototypeOf(v) === Object.prototype,
    };
  }
  return v;
}

function outcome(run: () => unknown): string {
  try {
    return JSON.stringify({ value: canon(run()) });
  } catch (err) {
    if (isCodedError(err)) return JSON.stringify({ code: err.code, message: err.message });
    return JSON.stringify({ crash: String(err) });
  }
}

// The reference: the tree tokenizer, the trailing-data check that viewBody made, the tree decoder.
function exact(bytes: Buffer, shape: StructShape): string {
  return outcome(() => {
    const { value, rest } = parseJson(bytes.toString('utf8'));
    if (rest.trim() !== '') throw Object.assign(new Error('request body has data after its JSON value'), { code: 'AUTHZ_BODY_AMBIGUOUS' });
    return decodeExact(value, shape, '');
  });
}

// What the cases exercised, so that a property cannot pass by never reaching the decoder.
const tally = { cases: 0, decoded: 0, syntax: 0, refused: 0 };

/** Checks one body against one shape; returns a description of a disagreement, or undefined. */
function disagreement(bytes: Buffer, shape: StructShape): string | undefined {
  tally.cases++;
  const want = exact(bytes, shape);
  const got = outcome(() => new JsonBody(bytes.toString('utf8')).decode(shape));
  if (want.startsWith('{"value"')) tally.decoded++;
  else if (want.includes('invalid JSON at offset')) tally.syntax++;
  else tally.refused++;
  return got === want ? undefined : `one-pass: ${got}\n   exact: ${want}`;
}

function check(bytes: Buffer, shape: StructShape): boolean {
  const d = disagreement(bytes, shape);
  if (d) throw new Error(`${JSON.stringify(bytes.toString('utf8')).slice(0, 2000)}\n${d}`);
  return true;
}

// ---- bodies: trees rendered to text with every spelling JSON allows ----

type Tree =
  | { readonly t: 'lit'; readonly raw: string }
  | { readonly t: 'str'; readonly v: string }
  | { readonly t: 'arr'; readonly items: readonly Tree[] }
  | { readonly t: 'obj'; readonly entries: readonly (readonly [string, Tree])[] };

const lit = (raw: string): Tree => ({ t: 'lit', raw });
const NUMBERS = ['0', '-0', '1', '-1', '1.5', '1e2', '1E+2', '2.5e-3', '1e400', '-1e400', '12345678901234567890123', '9007199254740993'];
// Not JSON numbers, or not only: each parser must stop at the same offset with the same words.
const ODD_NUMBERS = [
  '1.',
  '-',
  '01',
  '1e',
  '1E+',
  '.5',
  '+1',
  '1.e5',
  '-0.0e-0',
  '0x1',
  'NaN',
  '-Infinity',
  '1_0',
  '\u0663',
  '2.',
  '-01.5',
];
const CHARS = [
  ...'aAsSkKiIz09 :,{}[]/',
  '"',
  '\\',
  '\n',
  '\t',
  '\r',
  '\b',
  '\f',
  '\u0000',
  '\u001f',
  '\u007f',
  '\u00e9',
  '\u017f', // ſ
  '\u212a', // Kelvin sign
  '\u0131', // dotless i
  '\u0130', // İ
  '\u2028',
  '\ufeff',
  '\ud800', // lone surrogates
  '\udc00',
  '\u{1f600}',
];
const text = (max = 8) => fc.array(fc.constantFrom(...CHARS), { maxLength: max }).map((cs) => cs.join(''));

const anyTree: fc.Arbitrary<Tree> = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(lit('null'), lit('true'), lit('false')),
    fc.constantFrom(...NUMBERS).map(lit),
    fc.constantFrom(...ODD_NUMBERS).map(lit),
    text().map((v): Tree => ({ t: 'str', v })),
    fc.array(tie('tree'), { maxLength: 4 }).map((items): Tree => ({ t: 'arr', items })),
    fc.array(fc.tuple(text(), tie('tree')), { maxLength: 4 }).map((entries): Tree => ({ t: 'obj', entries })),
  ),
})).tree;

// Spellings of a Go field name that reach it: exact, any ASCII casing, and the non-ASCII folds
// (which the decoders refuse).
function spelling(name: string): fc.Arbitrary<string> {
  const flips = fc.array(fc.integer({ min: 0, max: 9 }), { minLength: name.length, maxLength: name.length });
  return fc.oneof(
    { arbitrary: fc.constant(name), weight: 6 },
    { arbitrary: flips.map((f) => [...name].map((c, i) => (f[i]! < 5 ? c.toLowerCase() : c.toUpperCase())).join('')), weight: 2 },
    {
      arbitrary: flips.map((f) =>
        [...name]
          .map((c, i) => {
            if (f[i]! > 6) return c;
            return ({ s: '\u017f', S: '\u017f', k: '\u212a', K: '\u212a', i: '\u0131', I: '\u0131' } as Record<string, string>)[c] ?? c;
          })
          .join(''),
      ),
      weight: 1,
    },
  );
}

const MAP_KEYS = [
  'o',
  'type',
  'device',
  'O',
  '__proto__',
  'constructor',
  '0',
  '1',
  '10',
  '2a',
  '-1',
  '',
  'net.ipv4.ip_forward',
  'a"b',
  'k\\',
];

function treeFor(shape: Shape, depth: number): fc.Arbitrary<Tree> {
  const wrong = depth > 3 ? fc.constantFrom(lit('1'), lit('true'), { t: 'str', v: 'x' } as Tree) : anyTree;
  return fc.oneof(
    { arbitrary: wellTyped(shape, depth), weight: 10 },
    { arbitrary: fc.constant(lit('null')), weight: 1 },
    { arbitrary: wrong, weight: 1 },
  );
}

function wellTyped(shape: Shape, depth: number): fc.Arbitrary<Tree> {
  if (shape === 'bool') return fc.constantFrom(lit('true'), lit('false'));
  if (shape === 'number') return fc.oneof({ arbitrary: fc.constantFrom(...NUMBERS), weight: 5 }, fc.constantFrom(...ODD_NUMBERS)).map(lit);
  if (shape === 'string') return text().map((v): Tree => ({ t: 'str', v }));
  if (shape === 'strslice') return fc.oneof(wellTyped('string', depth), wellTyped({ slice: 'string' }, depth));
  if ('slice' in shape) return fc.array(treeFor(shape.slice, depth + 1), { maxLength: 3 }).map((items): Tree => ({ t: 'arr', items }));
  if ('map' in shape) {
    const key = fc.oneof(fc.constantFrom(...MAP_KEYS), text(4));
    return fc.array(fc.tuple(key, treeFor(shape.map, depth + 1)), { maxLength: 4 }).map((entries): Tree => ({ t: 'obj', entries }));
  }
  const names = Object.keys(shape.struct);
  const known = fc
    .subarray(names, { maxLength: Math.min(8, names.length) })
    .chain((chosen) => fc.tuple(...chosen.map((n) => fc.tuple(spelling(n), treeFor(shape.struct[n]!, depth + 1)))));
  const unknown = fc.array(fc.tuple(fc.oneof(text(6), fc.constantFrom('Env', 'Labels', '__proto__', '7', 'hostname')), anyTree), {
    maxLength: 3,
  });
  return fc.tuple(known, unknown, fc.nat(), fc.boolean()).map(([k, u, seed, dup]) => {
    const entries: (readonly [string, Tree])[] = [...k, ...u];
    // A deterministic shuffle, then maybe a key given twice (same or another spelling).
    for (let i = entries.length - 1; i > 0; i--) {
      const j = (seed + i * 7919) % (i + 1);
      [entries[i], entries[j]] = [entries[j]!, entries[i]!];
    }
    if (dup && entries.length > 0) {
      const [key, v] = entries[seed % entries.length]!;
      const again = seed % 3 === 0 ? key : seed % 3 === 1 ? key.toLowerCase() : key.toUpperCase();
      entries.splice(seed % (entries.length + 1), 0, [again, v]);
    }
    return { t: 'obj', entries };
  });
}

interface Style {
  readonly ws: string;
  /** Chance (in %) that a character of a key / of a string value is written as an escape. */
  readonly escapeKeys: number;
  readonly escapeStrings: number;
  readonly seed: number;
}
const style: fc.Arbitrary<Style> = fc.record({
  ws: fc.constantFrom('', '', ' ', '\n  ', '\t', '\r\n'),
  escapeKeys: fc.constantFrom(0, 0, 10, 100),
  escapeStrings: fc.constantFrom(0, 10, 100),
  seed: fc.nat(),
});

function render(tree: Tree, s: Style): string {
  let state = s.seed | 1;
  const rand = (n: number) => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state % n;
  };
  const quote = (v: string, escapePct: number) => {
    let out = '"';
    for (const unit of v.split('')) {
      const c = unit.charCodeAt(0);
      const must = c < 0x20 || unit === '"' || unit === '\\';
      const isSurrogate = c >= 0xd800 && c <= 0xdfff;
      if (must || isSurrogate || rand(100) < escapePct) {
        const short = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\t': '\\t', '/': '\\/', '\r': '\\r', '\b': '\\b', '\f': '\\f' }[unit];
        const hex = c.toString(16).padStart(4, '0');
        out += short !== undefined && rand(2) === 0 ? short : `\\u${rand(2) ? hex : hex.toUpperCase()}`;
      } else out += unit;
    }
    return `${out}"`;
  };
  const w = () => (rand(3) === 0 ? s.ws : '');
  const go = (n: Tree): string => {
    switch (n.t) {
      case 'lit':
        return n.raw;
      case 'str':
        return quote(n.v, s.escapeStrings);
      case 'arr':
        return `[${w()}${n.items.map((i) => go(i) + w()).join(`,${w()}`)}]`;
      case 'obj':
        return `{${w()}${n.entries.map(([k, v]) => `${quote(k, s.escapeKeys)}${w()}:${w()}${go(v)}${w()}`).join(`,${w()}`)}}`;
    }
  };
  return w() + go(tree) + w();
}

// Text-level faults: trailing data, BOMs, deep nesting, invalid UTF-8, truncation.
const mutation = fc.oneof(
  { arbitrary: fc.constant((b: Buffer) => b), weight: 12 },
  {
    arbitrary: fc
      .constantFrom(' ', '\n', 'x', '{}', '1', '\u00a0', '\ufeff', '\u2028', '\u0000', ']')
      .map((tail) => (b: Buffer) => Buffer.concat([b, Buffer.from(tail)])),
    weight: 2,
  },
  { arbitrary: fc.constant((b: Buffer) => Buffer.concat([Buffer.from('\ufeff'), b])), weight: 1 },
  {
    arbitrary: fc
      .tuple(fc.nat(), fc.constantFrom([0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xc0, 0xa2], [0xf0, 0x9f, 0x98]))
      .map(([at, bad]) => (b: Buffer) => {
        // Inside a string if there is one, where invalid UTF-8 survives parsing as U+FFFD.
        const q = b.indexOf(0x22, at % Math.max(1, b.length));
        const i = q === -1 ? at % (b.length + 1) : q + 1;
        return Buffer.concat([b.subarray(0, i), Buffer.from(bad), b.subarray(i)]);
      }),
    weight: 2,
  },
  { arbitrary: fc.nat().map((at) => (b: Buffer) => b.subarray(0, at % (b.length + 1))), weight: 1 },
  {
    arbitrary: fc.tuple(fc.integer({ min: MAX_DEPTH - 3, max: MAX_DEPTH + 3 }), fc.boolean()).map(([depth, empty]) => (b: Buffer) => {
      // Deep nesting under an ignored key, around the limit.
      const inner = empty ? '' : '1';
      const deep = '['.repeat(depth) + inner + ']'.repeat(depth);
      const s = b.toString('latin1');
      const brace = s.indexOf('{');
      if (brace === -1) return Buffer.from(deep);
      return Buffer.from(`${s.slice(0, brace + 1)}"Env":${deep}${s[brace + 1] === '}' ? '' : ','}${s.slice(brace + 1)}`, 'latin1');
    }),
    weight: 2,
  },
);

const body = (shape: StructShape) =>
  fc.tuple(treeFor(shape, 0), style, mutation).map(([tree, st, mutate]) => mutate(Buffer.from(render(tree, st), 'utf8')));

const shapeAndBody = fc.constantFrom(...SHAPES).chain((shape) => fc.tuple(fc.constant(shape), body(shape)));

// ---- the corpus ----

function corpusBodies(): Buffer[] {
  const out: Buffer[] = [];
  for (const entry of loadCorpus())
    for (const call of entry.requests) {
      const b = call.payload?.RequestBody;
      if (call.endpoint === 'AuthZReq' && typeof b === 'string' && b) out.push(Buffer.from(b, 'base64'));
    }
  return out;
}

t.test('the two decoders agree on every body in the corpus, with every shape', async (t) => {
  const bodies = corpusBodies();
  t.ok(bodies.length > 20, `${bodies.length} bodies`);
  for (const b of bodies) for (const shape of SHAPES) t.equal(disagreement(b, shape), undefined);
});

t.test('the two decoders agree on generated and mutated bodies', async (t) => {
  fc.assert(
    fc.property(shapeAndBody, ([shape, bytes]) => check(bytes, shape)),
    { numRuns: 1500 },
  );
  // The property says little unless all three outcomes come up often.
  const { cases, decoded, syntax, refused } = tally;
  t.ok(
    decoded > cases / 5 && refused > cases / 10 && syntax > cases / 20,
    `${cases}: ${decoded} decoded, ${refused} refused, ${syntax} not JSON`,
  );
});

// Any shape table, not only today's: field names that fold alike, nest, repeat across levels.
const FIELD_NAMES = ['Privileged', 'Binds', 'Id', 'Is', 'Sk', 'Kind', 'KIND', 'A', 'Ab', 'AB', 'Source', 'Mode', 'X1', 'SiK', 'Ss'];
const anyShape: fc.Arbitrary<StructShape> = fc.letrec<{ shape: Shape; struct: StructShape }>((tie) => ({
  shape: fc.oneof(
    { depthSize: 'small', maxDepth: 3 },
    fc.constantFrom<Shape>('bool', 'string', 'number', 'strslice'),
    tie('shape').map((s): Shape => ({ slice: s })),
    tie('shape').map((s): Shape => ({ map: s })),
    tie('struct'),
  ),
  struct: fc
    .tuple(fc.uniqueArray(fc.constantFrom(...FIELD_NAMES), { maxLength: 6 }), fc.boolean())
    .chain(([names, pointer]) =>
      fc
        .tuple(...names.map(() => tie('shape')))
        .map((shapes): StructShape => ({ struct: Object.fromEntries(names.map((n, i) => [n, shapes[i]!])), pointer })),
    ),
})).struct;

t.test('the two decoders agree with any shape table', async (t) => {
  const before = { ...tally };
  fc.assert(
    fc.property(
      anyShape.chain((shape) => fc.tuple(fc.constant(shape), body(shape))),
      ([shape, bytes]) => check(bytes, shape),
    ),
    { numRuns: 700 },
  );
  t.ok(tally.decoded > before.decoded + 100 && tally.refused > before.refused + 50, 'decoded and refused alike');
});

t.test('the two decoders agree on corpus bodies with keys recased, repeated, escaped and retyped', async (t) => {
  const bodies = corpusBodies().filter((b) => b.length > 100);
  const before = { ...tally };
  // Edits go mostly to keys some shape knows: those are where the decoders have work to do.
  const known = new Set<string>();
  const collect = (shape: Shape): void => {
    if (typeof shape !== 'object') return;
    if ('slice' in shape) return collect(shape.slice);
    if ('map' in shape) return collect(shape.map);
    for (const [name, field] of Object.entries(shape.struct)) {
      known.add(name);
      collect(field);
    }
  };
  SHAPES.forEach(collect);
  const pick = <M extends RegExpExecArray>(found: M[], n: number, name: (m: M) => string): M => {
    const preferred = found.filter((m) => known.has(name(m)));
    const from = n % 5 !== 0 && preferred.length > 0 ? preferred : found;
    return from[Math.floor(n / 5) % from.length]!;
  };
  const edit = fc.oneof(
    // Recase or fold one key.
    fc.tuple(fc.nat(), fc.constantFrom('lower', 'upper', 'fold')).map(([n, how]) => (s: string) => {
      const keys = [...s.matchAll(/"([A-Za-z]+)":/g)];
      if (keys.length === 0) return s;
      const m = pick(keys, n, (m) => m[1]!);
      const k = m[1]!;
      const r =
        how === 'lower' ? k.toLowerCase() : how === 'upper' ? k.toUpperCase() : k.replace(/[sS]/, '\u017f').replace(/[kK]/, '\u212a');
      return s.slice(0, m.index) + `"${r}":` + s.slice(m.index + m[0].length);
    }),
    // Repeat one key-value pair right after itself.
    fc.nat().map((n) => (s: string) => {
      const pairs = [...s.matchAll(/"([A-Za-z]+)":(?:"[^"]*"|[a-z0-9-]+|\[\]|\{\}|null)/g)];
      if (pairs.length === 0) return s;
      const m = pick(pairs, n, (m) => m[1]!);
      const end = m.index + m[0].length;
      return `${s.slice(0, end)},${m[0]}${s.slice(end)}`;
    }),
    // Write one key with \u escapes.
    fc.nat().map((n) => (s: string) => {
      const keys = [...s.matchAll(/"([A-Za-z]+)":/g)];
      if (keys.length === 0) return s;
      const m = pick(keys, n, (m) => m[1]!);
      const esc = [...m[1]!].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
      return s.slice(0, m.index) + `"${esc}":` + s.slice(m.index + m[0].length);
    }),
    // Change one value's type.
    fc.tuple(fc.nat(), fc.constantFrom('null', '"x"', '1', 'true', '[]', '{}', '["a",null]', '-0')).map(([n, v]) => (s: string) => {
      const vals = [...s.matchAll(/"([A-Za-z]+)":(?:"[^"]*"|[a-z0-9-]+|\[\]|\{\}|null)/g)];
      if (vals.length === 0) return s;
      const m = pick(vals, n, (m) => m[1]!);
      return `${s.slice(0, m.index)}"${m[1]!}":${v}${s.slice(m.index + m[0].length)}`;
    }),
  );
  fc.assert(
    fc.property(
      fc.constantFrom(...bodies),
      fc.array(edit, { minLength: 1, maxLength: 4 }),
      fc.constantFrom(containerCreateShape, containerCreateShape, hostConfigShape, ...SHAPES),
      (b, edits, shape) => check(Buffer.from(edits.reduce((s, e) => e(s), b.toString('utf8'))), shape),
    ),
    { numRuns: 600 },
  );
  t.ok(tally.decoded > before.decoded + 100, `edited bodies decoded: ${tally.decoded - before.decoded}`);
  t.ok(tally.refused > before.refused + 50, `edited bodies refused: ${tally.refused - before.refused}`);
});

t.test('the two decoders agree on arbitrary JSON and on arbitrary bytes', async (t) => {
  const before = tally.decoded;
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 4 }), fc.constantFrom(...SHAPES), (v, shape) => check(Buffer.from(JSON.stringify(v)), shape)),
    { numRuns: 500 },
  );
  t.ok(tally.decoded > before + 100, `arbitrary JSON decoded: ${tally.decoded - before}`);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), fc.constantFrom(...SHAPES), (b, shape) => check(Buffer.from(b), shape)),
    { numRuns: 500 },
  );
  t.pass('arbitrary bytes: same refusals');
});

t.test('cases where a shortcut would go wrong', async (t) => {
  const decode = (s: string, shape: StructShape = hostConfigShape) => {
    t.equal(disagreement(Buffer.from(s), shape), undefined, `the reference agrees on ${s.slice(0, 60)}`);
    return new JsonBody(s).decode(shape);
  };
  const refusal = (code: string, message: string) => ({ code: `AUTHZ_${code}`, message });
  t.throws(
    () => decode('{"Privileged":true,"Privileged":false}'),
    refusal('BODY_AMBIGUOUS', 'Privileged is given twice ("Privileged" and "Privileged")'),
  );
  t.throws(
    () => decode('{"\\u0050rivileged":true,"Privileged":false}'),
    refusal('BODY_AMBIGUOUS', 'Privileged is given twice ("Privileged" and "Privileged")'),
    'an escaped key is the key it spells',
  );
  t.throws(
    () => decode('{"HostConfig":{"Binds":["a\\"b"],"binds":[]}}', containerCreateShape),
    refusal('BODY_AMBIGUOUS', 'HostConfig.Binds is given twice ("Binds" and "binds")'),
  );
  t.same(decode('{"Env":[1],"Env":[2],"Privileged":true,"a\\\\":1,"a\\\\":2}'), { Privileged: true }, 'keys Go ignores may repeat');
  t.throws(
    () => decode('{"DriverOpts":{"o":1,"o":"x"}}', volumeCreateShape),
    refusal('BODY_INVALID', 'DriverOpts["o"] is a JSON number where the daemon expects a string'),
    'every value of a repeated map key is decoded',
  );
  const opts = decode('{"DriverOpts":{"b":"x","1":"y","0":"z","__proto__":"p"}}', volumeCreateShape).DriverOpts as Map<string, string>;
  t.same(
    [...opts],
    [
      ['b', 'x'],
      ['1', 'y'],
      ['0', 'z'],
      ['__proto__', 'p'],
    ],
    'map entries keep their order, integer-like keys too',
  );
  t.same(decode('{"__proto__":{"Privileged":true},"__proto__":{}}'), {});
  t.same(Object.getPrototypeOf(decode('{"__proto__":{"Privileged":true}}')), Object.prototype);
  t.same(
    decode(`{"Env":${'['.repeat(MAX_DEPTH)}${']'.repeat(MAX_DEPTH)},"Privileged":true}`),
    { Privileged: true },
    'nesting up to the limit',
  );
  t.throws(
    () => decode(`{"Env":${'['.repeat(MAX_DEPTH)}1${']'.repeat(MAX_DEPTH)}}`),
    refusal('BODY_INVALID', `invalid JSON at offset ${7 + MAX_DEPTH}: nesting too deep`),
  );
  t.throws(
    () => decode('{"Privileged":"yes","Binds":[1,}'),
    refusal('BODY_INVALID', 'invalid JSON at offset 31: unexpected character "}"'),
    'a syntax error anywhere wins over a wrong type before it',
  );
  t.throws(
    () => decode('{"Privileged":"yes"} x'),
    refusal('BODY_AMBIGUOUS', 'request body has data after its JSON value'),
    'and so does trailing data',
  );
  t.same(decode('{"Privileged":true} \u00a0'), { Privileged: true }, 'trailing whitespace of any kind is not data');
  t.throws(() => decode('\ufeff{"Privileged":true}'), refusal('BODY_INVALID', 'invalid JSON at offset 0: unexpected character "\ufeff"'));
  t.ok(Object.is(decode('{"Count":-0}', { struct: { Count: 'number' } }).Count, -0));
  t.same(decode('{"Image":"\\ud800\\u0041"}', containerCreateShape), { Image: '\ud800A' }, 'a lone surrogate escape stays as it is');
  // Keys are compared in place with the key last seen at the same position: only keys spelled
  // without escapes may be, or 'a"b' (from "a\"b") would match the raw text "a"b".
  t.same(decode('{"a\\"b":1}'), {});
  t.throws(() => decode('{"a"b":1}'), refusal('BODY_INVALID', "invalid JSON at offset 4: expected ':'"));
  const long = 'x'.repeat(100_000);
  t.same(decode(`{"${long}":1,"\u017f${long}":2}`), {}, 'long keys are not folded');
});

t.test('remembered keys do not keep request bodies alive', async (t) => {
  // Keys cut from a body's text are views into all of it; the key tables must keep copies.
  const { setFlagsFromString } = await import('node:v8');
  const { runInNewContext } = await import('node:vm');
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const pad = 'x'.repeat(1024 * 1024);
  const body = (i: number) =>
    `{"Unknown_key_number_${i}":1,"HostConfig":{"Another_long_key_${i}":2,"Sysctls":{"net.ipv4.long_${i}":"1"},"Privileged":"x"},"pad":"${pad}"}`;
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < 30; i++) t.throws(() => new JsonBody(body(i)).decode(containerCreateShape), { code: 'AUTHZ_BODY_INVALID' });
  gc();
  const grown = process.memoryUsage().heapUsed - before;
  t.ok(grown < 8 * 1024 * 1024, `heap grew ${(grown / 1048576).toFixed(1)} MiB after 30 bodies of 1 MiB`);
});
