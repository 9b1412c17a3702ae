import fc from 'fast-check';
import t from 'tap';
import { createAuthzHandlers } from '../../../src/protocol/authz.js';
import { Greetings } from '../../../src/state/greetings.js';
import { StateStore } from '../../../src/state/store.js';
import { corpusRequests } from '../../helpers/corpus.js';
import { silentLog } from '../../helpers/log.js';
import { defaultPolicy } from '../../helpers/policy.js';

// Property-based: random and mutated real payloads through the real AuthZReq handler. Nothing
// may throw, every answer is a well-formed verdict, and nothing the default policy must deny is
// allowed, however it is spelled.

const policy = defaultPolicy();
const state = new StateStore(t.testdir({}));
t.teardown(() => state.close());
const greetings = new Greetings(state);
greetings.greet('@anonymous');
const authz = createAuthzHandlers({ policy: () => policy, greetings, log: silentLog() });

function verdict(text: string): { Allow: boolean; Msg?: string } {
  const out = JSON.parse(authz.request(text)) as { Allow: unknown; Msg?: unknown };
  if (typeof out.Allow !== 'boolean') throw new Error(`bad answer ${JSON.stringify(out)}`);
  if (!out.Allow && (typeof out.Msg !== 'string' || out.Msg === '')) throw new Error('a denial without a message');
  return out as { Allow: boolean; Msg?: string };
}

const dangerous = ['19', '20', '21', '22', '23', '24', '25', '26', '27'].map((f) => corpusRequests(`${f}-`, 'containers/create')[0]!);
const decode = (env: Record<string, unknown>) =>
  JSON.parse(Buffer.from(String(env.RequestBody), 'base64').toString('utf8')) as Record<string, unknown>;
const withBody = (env: Record<string, unknown>, text: string) => ({
  ...env,
  RequestBody: Buffer.from(text).toString('base64'),
  RequestHeaders: { ...(env.RequestHeaders as object), 'Content-Length': String(Buffer.byteLength(text)) },
});

interface Rnd {
  nextInt(min: number, max: number): number;
}

// A seeded generator (mulberry32), so fast-check can shrink and replay a failing seed.
function seeded(seed: number): Rnd {
  let a = seed >>> 0;
  return {
    nextInt(min, max) {
      a = (a + 0x6d2b79f5) >>> 0;
      let x = Math.imul(a ^ (a >>> 15), 1 | a);
      x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
      return min + (((x ^ (x >>> 14)) >>> 0) % (max - min + 1));
    },
  };
}

// Re-spells a JSON value the way Go reads it identically: key case, escapes, whitespace, unknown keys.
function respell(value: unknown, rnd: Rnd): string {
  const ws = () => [' ', '', '\n', '\t', ''][rnd.nextInt(0, 4)]!;
  const str = (s: string) => {
    let out = '"';
    for (const ch of s)
      out += rnd.nextInt(0, 4) === 0 ? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}` : JSON.stringify(ch).slice(1, -1);
    return `${out}"`;
  };
  const key = (k: string) => str([...k].map((c) => (rnd.nextInt(0, 1) ? c.toUpperCase() : c.toLowerCase())).join(''));
  if (Array.isArray(value)) return `[${ws()}${value.map((v) => respell(v, rnd)).join(`,${ws()}`)}${ws()}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).map(([k, v]) => `${key(k)}${ws()}:${ws()}${respell(v, rnd)}`);
    if (rnd.nextInt(0, 3) === 0)
      entries.splice(rnd.nextInt(0, entries.length), 0, `"X-Unknown-${rnd.nextInt(0, 999)}":${ws()}{"Privileged":false}`);
    return `{${ws()}${entries.join(`,${ws()}`)}${ws()}}`;
  }
  return typeof value === 'string' ? str(value) : JSON.stringify(value);
}

// Spellings of the same route the daemon's router treats alike.
function respellUri(uri: string, rnd: Rnd): string {
  const [path, query] = uri.split('?');
  const versioned = path!.replace(/^\/v1\.41/, ['/v1.41', '/v1.41.0', '/v1.40', '/v1.44'][rnd.nextInt(0, 3)]!);
  const encoded = [...versioned]
    .map((c) => (c !== '/' && rnd.nextInt(0, 5) === 0 ? `%${c.charCodeAt(0).toString(16).toUpperCase()}` : c))
    .join('');
  const target = rnd.nextInt(0, 3) === 0 ? `http://docker${encoded}` : encoded;
  return query === undefined ? target : `${target}?${query}`;
}

// What a property check needs of a test (the root and subtests alike).
type Asserts = Pick<typeof t, 'equal'>;

// fc.check, not fc.assert and a pass: the outcome is an assertion that can fail, with the counterexample.
function holds<Ts>(t: Asserts, what: string, property: fc.IProperty<Ts>, numRuns: number): void {
  const r = fc.check(property, { numRuns });
  t.equal(r.failed, false, `${what} (${r.numRuns} of ${numRuns} runs)`, { counterexample: r.counterexample, error: r.errorInstance });
}

t.test('random input never throws and always gets a verdict', async (t) => {
  holds(
    t,
    'any string',
    fc.property(fc.string({ maxLength: 300 }), (s) => void verdict(s)),
    2000,
  );
  holds(
    t,
    'any envelope-shaped object',
    fc.property(
      fc.record(
        {
          RequestMethod: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'get', ''),
          RequestUri: fc.string(),
          RequestBody: fc.option(fc.base64String()),
          RequestHeaders: fc.option(fc.dictionary(fc.string(), fc.string())),
          User: fc.option(fc.string()),
        },
        { requiredKeys: [] },
      ),
      (env) => void verdict(JSON.stringify(env)),
    ),
    2000,
  );
  holds(
    t,
    'any JSON value',
    fc.property(fc.anything(), (v) => void verdict(JSON.stringify(v) ?? '')),
    1000,
  );
});

t.test('dangerous creates stay denied however they are spelled', async (t) => {
  holds(
    t,
    'respelled dangerous creates are denied',
    fc.property(fc.constantFrom(...dangerous), fc.integer(), (env, seed) => {
      const rnd = seeded(seed);
      const spelled = { ...withBody(env, `${respell(decode(env), rnd)}\n`), RequestUri: respellUri(String(env.RequestUri), rnd) };
      const v = verdict(JSON.stringify(spelled));
      if (v.Allow) throw new Error(`allowed: ${JSON.stringify(spelled)}`);
    }),
    600,
  );
});

t.test('byte-level mutations of dangerous bodies are never allowed while they still say privileged', async (t) => {
  const privileged = corpusRequests('21-', 'containers/create')[0]!;
  const text = Buffer.from(String(privileged.RequestBody), 'base64').toString('utf8');
  holds(
    t,
    'no mutated privileged body is allowed',
    fc.property(fc.nat(text.length - 1), fc.nat(text.length), fc.string({ maxLength: 8 }), (at, len, insert) => {
      const mutated = text.slice(0, at) + insert + text.slice(Math.min(text.length, at + (len % 12)));
      const v = verdict(JSON.stringify(withBody(privileged, mutated)));
      // Independent oracle: if the mutated body still parses and still asks for Privileged in any
      // key casing, the plugin must not allow it.
      let stillPrivileged = false;
      try {
        const o = JSON.parse(mutated) as Record<string, unknown>;
        const hc = Object.entries(o).find(([k]) => k.toLowerCase() === 'hostconfig')?.[1] as Record<string, unknown> | undefined;
        stillPrivileged = !!hc && Object.entries(hc).some(([k, val]) => k.toLowerCase() === 'privileged' && val === true);
      } catch {
        // not JSON: the plugin must deny too, checked below
        if (v.Allow) throw new Error(`allowed unparseable body: ${JSON.stringify(mutated)}`);
      }
      if (stillPrivileged && v.Allow) throw new Error(`allowed: ${JSON.stringify(mutated)}`);
    }),
    3000,
  );
});
