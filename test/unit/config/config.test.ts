import t from 'tap';
import { loadConfig } from '../../../src/config/config.js';

t.test('defaults', async (t) => {
  const c = loadConfig({});
  t.same(c, {
    socket: '/run/docker/plugins/authz.sock',
    pluginName: 'authz',
    policyFile: undefined,
    stateDir: '/var/lib/docker-authz',
    logLevel: 'info',
    metrics: { kind: 'off' },
    dockerSocket: '/var/run/docker.sock',
    pkiDir: '/etc/docker-authz/pki',
    usersSocketDir: '/run/docker-authz/users',
    gatewaySocket: '/run/docker-authz/gateway.sock',
    daemonTls: { host: '127.0.0.1', port: 2376 },
  });
  t.ok(Object.isFrozen(c));
});

t.test('the plugin name follows the socket', async (t) => {
  t.equal(loadConfig({ AUTHZ_SOCKET: '/run/docker/plugins/ci-gate.sock' }).pluginName, 'ci-gate');
  t.equal(loadConfig({ AUTHZ_POLICY: '' }).policyFile, undefined);
});

t.test('bad values stop the start with every problem listed', async (t) => {
  t.throws(() => loadConfig({ AUTHZ_SOCKET: 'relative.sock', AUTHZ_LOG_LEVEL: 'loud', AUTHZ_STATE_DIR: 'x' }), {
    code: 'AUTHZ_CONFIG_INVALID',
    message: /AUTHZ_SOCKET: must be an absolute path[\s\S]*AUTHZ_STATE_DIR[\s\S]*AUTHZ_LOG_LEVEL/,
  });
  t.throws(() => loadConfig({ AUTHZ_SOCKET: '/run/x.socket' }), { message: /\.sock/ });
  t.throws(() => loadConfig({ AUTHZ_SOCKET: `/${'a'.repeat(120)}.sock` }), { message: /108/ });
});

t.test('the user gateway settings', async (t) => {
  t.same(loadConfig({ AUTHZ_DAEMON_TLS_ADDRESS: 'localhost:12376' }).daemonTls, { host: 'localhost', port: 12376 });
  t.same(loadConfig({ AUTHZ_DAEMON_TLS_ADDRESS: '[::1]:2376' }).daemonTls, { host: '::1', port: 2376 });
  for (const bad of ['127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', 'tcp://127.0.0.1:2376', ':2376'])
    t.throws(() => loadConfig({ AUTHZ_DAEMON_TLS_ADDRESS: bad }), { message: /AUTHZ_DAEMON_TLS_ADDRESS: must be HOST:PORT/ }, bad);
  t.throws(() => loadConfig({ AUTHZ_PKI_DIR: 'pki' }), { message: /AUTHZ_PKI_DIR: must be an absolute path/ });
  t.throws(() => loadConfig({ AUTHZ_USERS_SOCKET_DIR: `/${'a'.repeat(70)}` }), {
    message: /AUTHZ_USERS_SOCKET_DIR: must be at most 68 bytes/,
  });
});
