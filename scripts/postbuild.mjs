// After tsc: bundles the command line into dist/cli.js for production, and makes it executable.
//
// tsc has written every module to dist/ (the scripts and tests that import dist/<dir>/*.js use
// those); dist/cli.js is then replaced by a bundle of everything the CLI loads, so that the plugin
// starts by reading a few files instead of several hundred (node_modules included). The path stays
// dist/cli.js: the installer, the systemd launcher and ecosystem.config.js run it.
//
// - Native and optional packages stay external and load from node_modules: better-sqlite3 (a
//   compiled addon; the installer ships node_modules for it) and prom-client (only loaded when
//   metrics are served).
// - Three entry points: the CLI, the policy parser (policy-parse.js, loaded on its first use) and
//   the decode worker (decode-worker.js, the thread that decodes big calls). What is loaded with
//   import() (the commands other than the one run, the Hono app, the metrics exporter) goes to
//   chunks of its own, loaded when needed; code shared by entry points is in shared chunks.
// - Every output file sits directly in dist/, and `import.meta.url` in each module is rewritten to
//   the URL its tsc output has, so that paths computed from it (package.json, policy/default.yaml,
//   the decode worker) are the same bundled or not.
// - The built-in default policy is validated here, at build time (dist/default-policy.json): a
//   policy file whose text is exactly policy/default.yaml is put in force without the YAML parser
//   and the schema (src/policy/precompiled.ts).
import { build } from 'esbuild';
import { chmodSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { isDeepStrictEqual } from 'node:util';

const ROOT = new URL('..', import.meta.url).pathname;
const DIST = `${ROOT}dist/`;
const SRC = `${ROOT}src/`;

// The precompiled default policy (see src/policy/precompiled.ts), from tsc's output.
rmSync(`${DIST}default-policy.json`, { force: true });
const { parsePolicyText } = await import(`${DIST}policy/parse.js`);
const { precompile } = await import(`${DIST}policy/precompiled.js`);
const defaultText = readFileSync(`${ROOT}policy/default.yaml`, 'utf8');
const parsed = parsePolicyText(defaultText, 'policy/default.yaml');
if (!parsed.ok) throw new Error(`policy/default.yaml is invalid:\n${parsed.error.message}`);
// What goes through JSON must come back the same (no undefined, Map or Set in a policy).
if (!isDeepStrictEqual(JSON.parse(JSON.stringify(parsed.policy)), parsed.policy)) {
  throw new Error('the default policy does not survive JSON: it cannot be precompiled');
}
writeFileSync(`${DIST}default-policy.json`, precompile(defaultText, parsed.policy));

// Chunks of an earlier build.
for (const f of readdirSync(DIST)) if (/^chunk-[\w-]+\.js(\.map)?$/.test(f)) rmSync(DIST + f);

// The policy parser (src/policy/parser.ts) is loaded on its first call, synchronously: require()
// of an ES module, which node >= 20.19 (package.json engines) does.
const LAZY_PARSER = `import { createRequire } from 'node:module';
let loaded;
export const policyParser = () => (loaded ??= createRequire(import.meta.url)('./policy-parse.js'));
`;

const sources = {
  name: 'docker-authz-sources',
  setup(b) {
    b.onLoad({ filter: /\/src\/policy\/parser\.ts$/ }, () => ({ contents: LAZY_PARSER, loader: 'js' }));
    b.onLoad({ filter: /\/src\/.*\.ts$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return undefined;
      const out = relative(SRC, args.path).replace(/\.ts$/, '.js');
      return { contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(out)}, import.meta.url).href`), loader: 'ts' };
    });
  },
};

await build({
  entryPoints: { cli: `${SRC}cli.ts`, 'policy-parse': `${SRC}policy/parse.ts`, 'decode-worker': `${SRC}decode-worker.ts` },
  outdir: DIST,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunk-[hash]',
  external: ['better-sqlite3', 'prom-client'],
  // CommonJS packages inside an ES module bundle still call require() for node's own modules.
  banner: { js: "import { createRequire as __authzRequire } from 'node:module'; const require = __authzRequire(import.meta.url);" },
  plugins: [sources],
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
});

chmodSync(`${DIST}cli.js`, 0o755);
