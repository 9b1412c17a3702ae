import { ROUTE_TABLE, type RouteDef } from './route-table.js';

export interface RouteMatch {
  readonly route: RouteDef;
  readonly params: Readonly<Record<string, string>>;
}

interface CompiledRoute {
  readonly route: RouteDef;
  readonly regex: RegExp;
  readonly names: readonly string[];
}

// `{name}` is one segment, `{name:.*}` / `{name:.+}` may span several, as in gorilla/mux.
function compileRoute(route: RouteDef): CompiledRoute {
  const names: string[] = [];
  const source = route.pattern.replace(/[.*+?^$()|[\]\\]|\{([a-zA-Z]+)(?::([^}]+))?\}/g, (m, name?: string, re?: string) => {
    if (name === undefined) return `\\${m}`;
    names.push(name);
    return `(${re ?? '[^/]+'})`;
  });
  return { route, regex: new RegExp(`^${source}$`), names };
}

function firstSegment(path: string): string {
  const end = path.indexOf('/', 1);
  return end === -1 ? path.slice(1) : path.slice(1, end);
}

// Routes bucketed by method and first segment, keeping table order inside a bucket (first match wins).
const buckets = new Map<string, CompiledRoute[]>();
for (const route of ROUTE_TABLE) {
  const key = `${route.method} ${firstSegment(route.pattern)}`;
  let list = buckets.get(key);
  if (!list) buckets.set(key, (list = []));
  list.push(compileRoute(route));
}

/** Finds the route the daemon would serve for a decoded, unversioned path. */
export function matchRoute(method: string, path: string): RouteMatch | undefined {
  const list = buckets.get(`${method} ${firstSegment(path)}`);
  if (!list) return undefined;
  for (const c of list) {
    const m = c.regex.exec(path);
    if (!m) continue;
    const params: Record<string, string> = {};
    c.names.forEach((name, i) => (params[name] = m[i + 1] ?? ''));
    return { route: c.route, params };
  }
  return undefined;
}

export const KNOWN_OPERATIONS: ReadonlySet<string> = new Set(ROUTE_TABLE.map((r) => r.op));
