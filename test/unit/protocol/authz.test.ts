import t from 'tap';
import type { CompiledPolicy } from '../../../src/policy/compile.js';
import { createAuthzHandlers, type GreetingStore } from '../../../src/protocol/authz.js';
import { envelope } from '../../helpers/corpus.js';
import { memoryLog } from '../../helpers/log.js';
import { defaultPolicy } from '../../helpers/policy.js';

const PS = JSON.stringify(envelope('GET', '/v1.41/containers/json'));
const HELLO_CREATE = envelope('POST', '/v1.41/containers/create', { Image: 'hello-world' });

function store(over: Partial<GreetingStore> = {}): GreetingStore & { greeted: string[] } {
  const greeted: string[] = [];
  return {
    greeted,
    isGreeted: (id) => greeted.includes(id),
    get anyGreeted() {
      return greeted.length > 0;
    },
    greet: (id) => (greeted.includes(id) ? false : (greeted.push(id), true)),
    ...over,
  };
}

t.test('every path logs one decision line with the rule, and denies with "denied by rule <id>: ..."', async (t) => {
  const log = memoryLog();
  const authz = createAuthzHandlers({ policy: defaultPolicy, greetings: store(), log });
  t.same(JSON.parse(authz.request('')), {
    Allow: false,
    Msg: 'denied by rule request-integrity: empty request (the daemon resends an empty body when it retries a dropped call)',
  });
  t.match(JSON.parse(authz.request(JSON.stringify(envelope('GET', '/v1.41/nowhere')))), {
    Allow: false,
    Msg: /^denied by rule unknown-operation: /,
  });
  t.match(JSON.parse(authz.request(PS)), { Allow: false, Msg: /^denied by rule hello: You must say hello first/ });
  t.match(
    log.records.map((r) => [r.msg, r.rule, r.code]),
    [
      ['decision', 'request-integrity', 'AUTHZ_REQUEST_MALFORMED'],
      ['decision', 'unknown-operation', 'AUTHZ_OPERATION_UNKNOWN'],
      ['decision', 'hello', undefined],
    ],
  );
});

t.test('a greeting is recorded when the daemon confirms the create; a failure to record it is logged, not thrown', async (t) => {
  const log = memoryLog();
  const greetings = store();
  const authz = createAuthzHandlers({ policy: defaultPolicy, greetings, log });
  t.equal(authz.response(JSON.stringify({ ...HELLO_CREATE, ResponseStatusCode: 201 })), '{"Allow":true}');
  t.same(greetings.greeted, ['@anonymous']);
  t.match(log.records.at(-1), { msg: 'hello', identity: '@anonymous', greeted: true, new: true });

  const failing = createAuthzHandlers({
    policy: defaultPolicy,
    greetings: store({
      greet: () => {
        throw new Error('database or disk is full');
      },
    }),
    log,
  });
  t.equal(failing.response(JSON.stringify({ ...HELLO_CREATE, ResponseStatusCode: 201 })), '{"Allow":true}');
  t.match(log.records.at(-1), { level: 'error', err: 'database or disk is full', msg: /could not record the greeting/ });
});

t.test('when the state cannot be read, the gate says so instead of "say hello"', async (t) => {
  const authz = createAuthzHandlers({ policy: defaultPolicy, greetings: store({ unavailable: 'disk I/O error' }), log: memoryLog() });
  t.match(JSON.parse(authz.request(PS)), { Allow: false, Msg: /^denied by rule hello: no greeting can be read .*disk I\/O error/ });
});

t.test('a failure while deciding (a bug) is a denial by rule internal-error, never an allow or a crash', async (t) => {
  const log = memoryLog();
  const base = defaultPolicy();
  const broken: CompiledPolicy = {
    ...base,
    hello: { ...base.hello, enabled: false },
    rules: [
      {
        id: 'boom',
        kind: 'operations',
        effect: 'deny',
        audit: false,
        appliesTo: () => true,
        check: () => {
          throw new Error('bug');
        },
      },
    ],
  };
  const authz = createAuthzHandlers({ policy: () => broken, greetings: store(), log });
  t.match(JSON.parse(authz.request(PS)), { Allow: false, Msg: /^denied by rule internal-error: / });
  t.match(log.records, [
    { level: 'error', msg: 'deciding a request failed' },
    { msg: 'decision', rule: 'internal-error', code: 'AUTHZ_INTERNAL' },
  ]);
});
