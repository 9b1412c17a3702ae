import t from 'tap';
import { canonicalImage } from '../../../src/policy/image-ref.js';

t.test('the spellings of one image compare equal', async (t) => {
  const want = 'docker.io/library/hello-world:latest';
  for (const ref of [
    'hello-world',
    'hello-world:latest',
    'library/hello-world',
    'docker.io/library/hello-world',
    'index.docker.io/library/hello-world:latest',
  ]) {
    t.equal(canonicalImage(ref), want, ref);
  }
  t.equal(canonicalImage('hello-world', 'latest'), want, 'pull passes the tag separately');
  t.equal(canonicalImage('docker.io/library/hello-world', ''), want);
});

t.test('different images stay different', async (t) => {
  t.equal(canonicalImage('evil/hello-world'), 'docker.io/evil/hello-world:latest');
  t.equal(canonicalImage('localhost:5000/hello-world'), 'localhost:5000/hello-world:latest');
  t.equal(canonicalImage('registry.local/x/y:1'), 'registry.local/x/y:1');
  t.equal(canonicalImage('hello-world@sha256:abc'), 'docker.io/library/hello-world@sha256:abc');
  t.not(canonicalImage('hello-world:linux'), canonicalImage('hello-world'));
});
