// Canonical form of an image reference, so `hello-world`, `hello-world:latest`,
// `library/hello-world` and `docker.io/library/hello-world` compare equal.
export function canonicalImage(ref: string, tag?: string): string {
  let name = ref.trim();
  let digest = '';
  const at = name.indexOf('@');
  if (at !== -1) {
    digest = name.slice(at);
    name = name.slice(0, at);
  }
  const lastSlash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  let refTag = '';
  if (colon > lastSlash) {
    refTag = name.slice(colon + 1);
    name = name.slice(0, colon);
  }
  const parts = name.split('/');
  const first = parts[0] ?? '';
  const hasRegistry = parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  let registry = hasRegistry ? first : 'docker.io';
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = 'docker.io';
  let path = (hasRegistry ? parts.slice(1) : parts).join('/');
  if (registry === 'docker.io' && !path.includes('/')) path = `library/${path}`;
  const finalTag = tag || refTag || (digest ? '' : 'latest');
  return `${registry}/${path}${finalTag ? `:${finalTag}` : ''}${digest}`;
}
