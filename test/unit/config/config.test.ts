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
