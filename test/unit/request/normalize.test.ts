import t from 'tap';
import { normalize } from '../../../src/request/normalize.js';
import { corpusRequests, envelope, loadCorpus } from '../../helpers/corpus.js';

t.test('every request in the real corpus maps to a known operation', async (t) => {
  let n = 0;
  for (const entry of loadCorpus()) {
    for (const call of entry.requests) {
      if (call.endpoint !== 'AuthZReq') continue;
      const r = normalize(call.payload!);
      t.ok(
        r.ok,
        `${entry.file}: ${String(call.payload!.RequestMethod)} ${String(call.payload!.RequestUri)} ${r.ok ? r.request.op : r.message}`,
      );
      n++;
    }
  }
  t.ok(n > 100, `replayed ${n} requests`);
});

t.test('names operations by route, not by spelling', async (t) => {
  const op = (method: string, uri: string) => {
    const r = normalize(envelope(method, uri));
    return r.ok ? r.request.op : r.code;
  };
  t.equal(op('GET', '/v1.41/containers/json'), 'container.list');
  t.equal(op('GET', '/containers/json'), 'container.list');
  t.equal(op('HEAD', '/_ping'), 'system.ping');
  t.equal(op('GET', '/v1.41/images/library/hello-world/json'), 'image.inspect');
  t.equal(op('POST', '/v1.41/containers/authx/exec'), 'AUTHZ_BODY_NOT_VISIBLE', 'exec create needs its body');
  t.equal(op('POST', '/v1.41/containers/a%2Fb/stop'), 'container.stop');
  t.equal(op('POST', '/session'), 'session');
  t.equal(op('PATCH', '/v1.41/info'), 'AUTHZ_REQUEST_MALFORMED');
  t.equal(op('GET', '/v1.41/nonsense'), 'AUTHZ_OPERATION_UNKNOWN');
  t.equal(op('GET', '/v1.41/info/'), 'AUTHZ_OPERATION_UNKNOWN');
});

t.test('reads the identity from User, anonymous otherwise', async (t) => {
  const tls = corpusRequests('94', 'containers/create')[0]!;
  const r = normalize(tls);
  t.ok(r.ok && r.request.identity.kind === 'tls' && r.request.identity.name === 'alice');
  const anon = normalize(envelope('GET', '/v1.41/info'));
  t.ok(anon.ok && anon.request.identity.kind === 'anonymous');
  const reserved = normalize({ ...envelope('GET', '/v1.41/info'), User: '@anonymous' });
  t.match(reserved, { ok: false, code: 'AUTHZ_REQUEST_MALFORMED' }, 'a TLS user cannot pose as the anonymous identity');
});

t.test('a body the daemon did not forward is never judged as empty', async (t) => {
  // Over 1 MiB, not JSON by Content-Type, chunked, or a retry: no RequestBody, but the daemon will read one.
  const hidden = normalize(
    envelope('POST', '/v1.41/containers/create', undefined, { 'Content-Length': '1100000', 'Content-Type': 'application/json' }),
  );
  t.match(hidden, { ok: false, code: 'AUTHZ_BODY_NOT_VISIBLE', op: 'container.create' });
  const chunked = normalize(envelope('POST', '/v1.41/containers/create', undefined, { 'Content-Type': 'application/json' }));
  t.match(chunked, { ok: false, code: 'AUTHZ_BODY_NOT_VISIBLE' });
  const emptyCreate = normalize(envelope('POST', '/v1.41/containers/create', undefined, { 'Content-Length': '0' }));
  t.match(emptyCreate, { ok: false, code: 'AUTHZ_BODY_NOT_VISIBLE' }, 'create always has a body');
  const start = normalize(envelope('POST', '/v1.41/containers/x/start', undefined, { 'Content-Length': '0' }));
  t.match(start, { ok: true, request: { op: 'container.start', subject: { kind: 'none' } } }, 'start without a body is fine');
  const startHidden = normalize(
    envelope('POST', '/v1.24/containers/x/start', undefined, { 'Content-Type': 'text/plain', 'Content-Length': '40' }),
  );
  t.match(startHidden, { ok: false, code: 'AUTHZ_BODY_NOT_VISIBLE' });
});

t.test('form bodies are refused on any route', async (t) => {
  const r = normalize(
    envelope('POST', '/v1.41/images/create?fromImage=hello-world', undefined, {
      'Content-Type': 'application/x-www-form-urlencoded',
      'Content-Length': '20',
    }),
  );
  t.match(r, { ok: false, code: 'AUTHZ_BODY_NOT_VISIBLE' });
});

t.test('a body whose length disagrees with Content-Length, or with trailing data, is refused', async (t) => {
  t.match(normalize(envelope('POST', '/v1.41/volumes/create', '{"Name":"a"}', { 'Content-Length': '3' })), {
    ok: false,
    code: 'AUTHZ_BODY_INVALID',
  });
  t.match(normalize(envelope('POST', '/v1.41/volumes/create', '{"Name":"a"}{"Driver":"x"}')), { ok: false, code: 'AUTHZ_BODY_AMBIGUOUS' });
});

t.test('legacy top-level HostConfig fields are judged with the inner HostConfig', async (t) => {
  const r = normalize(envelope('POST', '/v1.23/containers/create', { Image: 'x', Privileged: true, HostConfig: { Binds: [] } }));
  t.ok(r.ok);
  if (r.ok && r.request.subject.kind === 'container') {
    t.same(
      r.request.subject.views.map((v) => v.prefix),
      ['', 'HostConfig.'],
    );
    t.equal(r.request.subject.views[0]!.hc.Privileged, true);
  }
});

t.test('malformed envelopes are refused, never thrown', async (t) => {
  for (const env of [
    {},
    { RequestMethod: 'GET' },
    { RequestMethod: 1, RequestUri: '/info' },
    { RequestMethod: 'GET', RequestUri: '/info', RequestHeaders: 'x' },
    { RequestMethod: 'POST', RequestUri: '/v1.41/volumes/create', RequestBody: 42 },
    { RequestMethod: 'GET', RequestUri: '/info', User: 7 },
  ]) {
    t.match(normalize(env), { ok: false }, JSON.stringify(env));
  }
});

t.test('what the daemon reads and the plugin cannot see is refused', async (t) => {
  // Go lower-cases U+0130 to "i": this is a form Content-Type to the daemon.
  const disguised = normalize(
    envelope('POST', '/v1.41/images/create', undefined, {
      'Content-Type': 'appl\u0130cation/x-www-form-urlencoded',
      'Content-Length': '40',
    }),
  );
  t.match(disguised, { ok: false, code: 'AUTHZ_BODY_NOT_VISIBLE', message: /non-ASCII/ });
  // A repeated Content-Type: handlers read the first (a form), the plugin is shown the last.
  const repeated = normalize(
    envelope('POST', '/v1.41/images/create', undefined, { 'Content-Type': 'application/json', 'Content-Length': '60' }),
  );
  t.match(repeated, { ok: false, code: 'AUTHZ_BODY_NOT_VISIBLE', message: /another Content-Type/ });
  const login = normalize(envelope('POST', '/v1.41/auth', undefined, { 'Content-Type': 'application/json', 'Content-Length': '60' }));
  t.match(login, { ok: true, request: { op: 'system.auth' } }, 'newer daemons withhold the login body on purpose');
  // A pull whose form body hides behind a repeated header: the daemon reads fromImage/fromSrc from the body.
  const formPull = normalize(
    envelope('POST', '/v1.41/images/create?fromImage=hello-world&tag=latest', undefined, {
      'Content-Type': 'text/plain',
      'Content-Length': '80',
    }),
  );
  t.match(formPull, { ok: false, code: 'AUTHZ_BODY_NOT_VISIBLE', message: /pull must not carry a body/ });
  const importFromStdin = normalize(
    envelope('POST', '/v1.41/images/create?fromSrc=-&repo=x', undefined, {
      'Content-Type': 'application/x-tar',
      'Content-Length': '10240',
    }),
  );
  t.ok(importFromStdin.ok, 'docker import sends the image as the body');
});

t.test('queries the daemon would read differently are refused', async (t) => {
  for (const q of ['networkmode=%zz&networkmode=host', 'networkmode=x;y&networkmode=host', 'a=%', 'a=%4']) {
    t.match(
      normalize(envelope('POST', `/v1.41/build?${q}`, undefined, { 'Content-Type': 'application/x-tar', 'Content-Length': '10240' })),
      { ok: false, code: 'AUTHZ_URI_INVALID' },
      q,
    );
  }
  t.ok(
    normalize(
      envelope('POST', '/v1.41/build?t=a%2Fb&buildargs=%7B%7D&networkmode=default', undefined, {
        'Content-Type': 'application/x-tar',
        'Content-Length': '10240',
      }),
    ).ok,
  );
});

t.test('bodies of 1 MiB or more are refused on every daemon version, not only where 20.10 hides them', async (t) => {
  const big = { Image: 'x', Labels: { pad: 'x'.repeat(1024 * 1024) } };
  t.match(normalize(envelope('POST', '/v1.41/containers/create', big)), {
    ok: false,
    code: 'AUTHZ_BODY_NOT_VISIBLE',
    message: /1 MiB or more/,
  });
  const justUnder = { Image: 'x', Labels: { pad: 'x'.repeat(1024 * 1024 - 100) } };
  t.match(normalize(envelope('POST', '/v1.41/containers/create', justUnder)), { ok: true });
});

t.test('network bodies are decoded as the daemon decodes them, and must be visible', async (t) => {
  const created = normalize(
    envelope('POST', '/v1.41/networks/create', {
      name: 'n',
      DRIVER: 'macvlan',
      Options: { parent: 'eth0', Parent: 'eth1' },
      IPAM: { Config: [{ Subnet: '10.0.0.0/8', AuxiliaryAddresses: { a: '10.0.0.2' } }] },
    }),
  );
  t.ok(created.ok);
  if (created.ok && created.request.subject.kind === 'network-create') {
    const n = created.request.subject.network;
    t.equal(n.Driver, 'macvlan', 'keys match case-insensitively');
    t.same([...n.Options!.keys()], ['parent', 'Parent'], 'map keys are exact');
    t.equal(n.IPAM!.Config![0]!.AuxiliaryAddresses!.get('a'), '10.0.0.2', 'the JSON name of AuxAddress is AuxiliaryAddresses');
  } else t.fail('network-create subject');
  t.match(normalize(envelope('POST', '/v1.41/networks/create', '{"Driver":"bridge","driver":"macvlan"}')), {
    ok: false,
    code: 'AUTHZ_BODY_AMBIGUOUS',
  });
  t.match(normalize(envelope('POST', '/v1.41/networks/create', undefined, { 'Content-Length': '0' })), {
    ok: false,
    code: 'AUTHZ_BODY_NOT_VISIBLE',
  });
  t.match(
    normalize(envelope('POST', '/v1.41/networks/n/connect', undefined, { 'Content-Type': 'application/json', 'Content-Length': '90' })),
    {
      ok: false,
      code: 'AUTHZ_BODY_NOT_VISIBLE',
    },
  );
  t.match(normalize(envelope('POST', '/v1.41/networks/n/disconnect', { Container: 5 })), { ok: false, code: 'AUTHZ_BODY_INVALID' });
  t.match(
    normalize(
      envelope('POST', '/v1.41/networks/n/connect', { Container: 'c', EndpointConfig: { IPAMConfig: { IPv4Address: '10.1.1.1' } } }),
    ),
    {
      ok: true,
      request: {
        subject: {
          kind: 'network-connect',
          endpoint: { prefix: 'EndpointConfig.', endpoint: { IPAMConfig: { IPv4Address: '10.1.1.1' } } },
        },
      },
    },
  );
  t.match(normalize(envelope('POST', '/v1.41/networks/n/connect', { Container: 'c' })), {
    ok: true,
    request: { subject: { kind: 'network-connect', endpoint: undefined } },
  });
});

t.test('a login keeps only the registry it goes to', async (t) => {
  const r = normalize(
    envelope('POST', '/v1.41/auth', { username: 'u', password: 's3cret', serveraddress: 'https://u:pw@127.0.0.1:5000/v2/' }),
  );
  t.match(r, { ok: true, request: { op: 'system.auth', subject: { kind: 'login', registry: '127.0.0.1:5000' } } });
  t.notMatch(JSON.stringify(r.ok && r.request.subject), /s3cret|pw/, 'no credentials are kept');
  t.match(normalize(envelope('POST', '/v1.41/auth', { username: 'u', password: 'p' })), {
    ok: true,
    request: { subject: { kind: 'login', registry: 'docker.io' } },
  });
  t.match(normalize(envelope('POST', '/v1.41/auth', undefined, { 'Content-Type': 'application/json', 'Content-Length': '80' })), {
    ok: true,
    request: { subject: { kind: 'login', registry: undefined } },
  });
  t.match(normalize(envelope('POST', '/v1.41/auth', '{"serveraddress":"a","ServerAddress":"b"}')), {
    ok: false,
    code: 'AUTHZ_BODY_AMBIGUOUS',
  });
  t.match(normalize(envelope('POST', '/v1.41/auth', { serveraddress: 'http://a\tb' })), { ok: false, code: 'AUTHZ_BODY_INVALID' });
  const ambiguous = normalize(envelope('POST', '/v1.41/auth', '{"password":"s3cret","serveraddress":"a","serverAddress":"b"}'));
  t.notMatch(JSON.stringify(ambiguous), /s3cret/, 'errors name keys, never values');
});

t.test('build ulimits are decoded from their JSON query parameter', async (t) => {
  const r = normalize(
    envelope('POST', '/v1.41/build?ulimits=%5B%7B%22Name%22%3A%22rtprio%22%2C%22Hard%22%3A99%2C%22Soft%22%3A1%7D%2Cnull%5D', undefined, {
      'Content-Type': 'application/x-tar',
    }),
  );
  t.match(r, { ok: true, request: { subject: { kind: 'build', ulimits: [{ Name: 'rtprio', Hard: 99, Soft: 1 }] } } });
  t.match(normalize(envelope('POST', '/v1.41/build?ulimits=nope', undefined, { 'Content-Type': 'application/x-tar' })), {
    ok: false,
    code: 'AUTHZ_BODY_INVALID',
  });
});
