import { join } from 'node:path';
import t from 'tap';
import { withEnvFile } from '../../../src/config/env-file.js';

t.test('the env file named by AUTHZ_ENV_FILE sits under the environment', async (t) => {
  const dir = t.testdir({ 'authz.env': 'AUTHZ_POLICY=/etc/p.yaml\nAUTHZ_LOG_LEVEL=debug\n' });
  const env = withEnvFile({ AUTHZ_ENV_FILE: join(dir, 'authz.env'), AUTHZ_LOG_LEVEL: 'warn' });
  t.equal(env.AUTHZ_POLICY, '/etc/p.yaml');
  t.equal(env.AUTHZ_LOG_LEVEL, 'warn', 'the environment wins');
});

t.test('empty means none; a missing named file is an error', async (t) => {
  t.same(withEnvFile({ AUTHZ_ENV_FILE: '' }), { AUTHZ_ENV_FILE: '' });
  t.throws(() => withEnvFile({ AUTHZ_ENV_FILE: '/nonexistent/authz.env' }), {
    code: 'AUTHZ_CONFIG_INVALID',
    message: /cannot read the env file/,
  });
});

t.test('a .env in the working directory is never read', async (t) => {
  const dir = t.testdir({ '.env': 'AUTHZ_POLICY=/from/cwd.yaml\n' });
  const cwd = process.cwd();
  process.chdir(dir);
  t.teardown(() => process.chdir(cwd));
  t.equal(withEnvFile({ AUTHZ_ENV_FILE: '' }).AUTHZ_POLICY, undefined);
});
