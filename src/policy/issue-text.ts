import type { z } from 'zod';

// Validation messages in the words of the file being validated ("must be a list, not text",
// `unknown key "user" (did you mean "users"?)`) instead of the schema library's.

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping (key: value)',
  record: 'a mapping (key: value)',
};

function describeValue(v: unknown): string {
  if (v === null) return 'empty (null)';
  if (Array.isArray(v)) return 'a list';
  switch (typeof v) {
    case 'string':
      return `text ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
    case 'number':
      return `the number ${v}`;
    case 'boolean':
      return String(v);
    case 'object':
      return 'a mapping';
    default:
      return typeof v;
  }
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/** The closest of `options` to a mistyped `word`, if one is close enough to be what was meant. */
export function closest(word: string, options: readonly string[]): string | undefined {
  let best: { option: string; d: number } | undefined;
  for (const option of options) {
    const d = editDistance(word.toLowerCase(), option.toLowerCase());
    if (!best || d < best.d) best = { option, d };
  }
  return best && best.d <= Math.max(1, Math.floor(best.option.length / 3)) ? best.option : undefined;
}

const quoted = (xs: readonly unknown[]) => xs.map((x) => JSON.stringify(x)).join(', ');

// The keys a strict object (or a record with enumerated keys) takes, read from the schema that raised the issue.
function knownKeys(inst: unknown): string[] {
  const def = (inst as { _zod?: { def?: { shape?: object; keyType?: { _zod?: { def?: { entries?: object } } } } } })?._zod?.def;
  if (def?.shape) return Object.keys(def.shape);
  const entries = def?.keyType?._zod?.def?.entries;
  return entries ? Object.keys(entries) : [];
}

/** A zod error map: plain messages for the issues a hand-written YAML file runs into; others keep zod's. */
export const plainMessages: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined) return 'required';
      const want = TYPE_NAMES[issue.expected] ?? issue.expected;
      return `must be ${want}, not ${describeValue(issue.input)}`;
    }
    case 'invalid_value': {
      const got = issue.input === undefined ? '' : `, not ${describeValue(issue.input)}`;
      return issue.values.length === 1 ? `must be ${quoted(issue.values)}${got}` : `must be one of ${quoted(issue.values)}${got}`;
    }
    case 'invalid_union': {
      const disc = (issue as { discriminator?: string }).discriminator;
      const options = (issue as { options?: unknown[] }).options;
      if (disc === undefined || !options) return undefined;
      const value = (issue.input as Record<string, unknown> | undefined)?.[disc];
      const names = options.map(String);
      if (value === undefined) return `required: one of ${names.join(', ')}`;
      const guess = typeof value === 'string' ? closest(value, names) : undefined;
      return `${JSON.stringify(value)} is not one of ${names.join(', ')}${guess ? ` (did you mean ${guess}?)` : ''}`;
    }
    case 'unrecognized_keys': {
      const known = knownKeys(issue.inst);
      const parts = issue.keys.map((k) => {
        const guess = closest(k, known);
        return `${JSON.stringify(k)}${guess ? ` (did you mean ${JSON.stringify(guess)}?)` : ''}`;
      });
      const list = known.length > 0 && known.length <= 20 ? `; the keys here are ${known.join(', ')}` : '';
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${parts.join(', ')}${list}`;
    }
    case 'too_small': {
      const n = Number(issue.minimum);
      if ((issue.origin === 'array' || issue.origin === 'string') && n === 1) return 'must not be empty';
      if (issue.origin === 'array') return `must have at least ${n} items`;
      return issue.inclusive === false ? `must be greater than ${n}` : `must be at least ${n}`;
    }
    case 'too_big': {
      const n = Number(issue.maximum);
      if (issue.origin === 'array') return `must have at most ${n} items`;
      return issue.inclusive === false ? `must be less than ${n}` : `must be at most ${n}`;
    }
    default:
      return undefined;
  }
};

/** `a.b[0]["odd key"]`: a path in a YAML file, as a reader would write it. */
export function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(String(seg))) out += `${out === '' ? '' : '.'}${String(seg)}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}
