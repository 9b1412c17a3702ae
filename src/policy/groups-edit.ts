import { isDeepStrictEqual } from 'node:util';
import { isMap, isScalar, isSeq, parse, parseDocument, type Document, type Node, type Pair, type YAMLMap, type YAMLSeq } from 'yaml';
import { parsePolicy, type PolicyIssue } from './load.js';
import type { Policy } from './schema.js';

/**
 * Group membership lives in one place, the policy's `groups:` section; `docker-authz users add
 * --group` and `users remove` edit it there. The edit is made as a small text change at the
 * positions the YAML parser reports, so the rest of the file — comments, alignment, folded
 * descriptions — stays byte for byte as the operator wrote it. Each change is verified by parsing
 * the result again; an unusual layout the text change cannot handle falls back to re-rendering the
 * document (comments are kept, formatting is normalised), and the caller is told.
 */
export type GroupsEdit =
  { readonly kind: 'add'; readonly user: string; readonly groups: readonly string[] } | { readonly kind: 'remove'; readonly user: string };

export type GroupsEditResult =
  | { readonly ok: true; readonly text: string; readonly changed: boolean; readonly reformatted: boolean; readonly policy: Policy }
  | { readonly ok: false; readonly issues: readonly PolicyIssue[] };

type Groups = Record<string, unknown[]>;

/** The groups `user` belongs to, by the policy's `groups:` section. */
export function groupsOf(policy: Policy, user: string): string[] {
  return Object.entries(policy.groups)
    .filter(([, members]) => members.includes(user))
    .map(([g]) => g)
    .sort();
}

export function editPolicyGroups(text: string, file: string, edit: GroupsEdit): GroupsEditResult {
  const before = parsePolicy(text, file);
  if (!before.ok) return { ok: false, issues: before.issues };
  const raw = (parse(text) ?? {}) as Record<string, unknown>;
  const expected = applyToObject(raw, edit);
  if (isDeepStrictEqual(expected, raw)) return { ok: true, text, changed: false, reformatted: false, policy: before.policy };

  let next = spliced(text, edit);
  let reformatted = false;
  if (next === undefined || !sameData(next, expected)) {
    next = rerendered(text, expected, edit);
    reformatted = true;
  }
  const after = parsePolicy(next, file);
  if (!after.ok) return { ok: false, issues: after.issues };
  return { ok: true, text: next, changed: true, reformatted, policy: after.policy };
}

function applyToObject(raw: Record<string, unknown>, edit: GroupsEdit): Record<string, unknown> {
  const groups: Groups = {};
  const given = raw.groups;
  if (given && typeof given === 'object')
    for (const [g, m] of Object.entries(given)) groups[g] = Array.isArray(m) ? [...(m as unknown[])] : (m as unknown[]);
  if (edit.kind === 'add') {
    for (const g of edit.groups) {
      const members = (groups[g] ??= []);
      if (!members.includes(edit.user)) members.push(edit.user);
    }
  } else {
    for (const [g, m] of Object.entries(groups)) if (Array.isArray(m)) groups[g] = m.filter((u) => u !== edit.user);
  }
  if (given === undefined && Object.keys(groups).length === 0) return raw;
  return { ...raw, groups };
}

function sameData(text: string, expected: unknown): boolean {
  const doc = parseDocument(text, { uniqueKeys: true });
  return doc.errors.length === 0 && isDeepStrictEqual(doc.toJS() ?? {}, expected);
}

// A user or group name as a YAML scalar: plain when it reads back as the same string, else quoted.
function scalar(value: string): string {
  try {
    if (parse(value) === value && !/[#:,[\]{}]/.test(value)) return value;
  } catch {
    // fall through
  }
  return JSON.stringify(value);
}

// ---------------------------------------------------------------------------------------------
// The text change, one group at a time (each step re-parses what the previous one produced).

function spliced(text: string, edit: GroupsEdit): string | undefined {
  let out: string | undefined = text;
  if (edit.kind === 'add') {
    for (const g of edit.groups) {
      out = addOne(out, g, edit.user);
      if (out === undefined) return undefined;
    }
    return out;
  }
  for (;;) {
    const step = removeOne(out, edit.user);
    if (step === undefined) return undefined;
    if (step === out) return out;
    out = step;
  }
}

const lineStart = (text: string, pos: number) => text.lastIndexOf('\n', pos - 1) + 1;
const lineEnd = (text: string, pos: number) => {
  const nl = text.indexOf('\n', pos);
  return nl === -1 ? text.length : nl;
};
const splice = (text: string, from: number, to: number, insert: string) => text.slice(0, from) + insert + text.slice(to);
const range = (n: unknown): [number, number, number] | undefined => (n as Node | null)?.range ?? undefined;

function rootGroups(text: string): { doc: Document; pair?: Pair<unknown, unknown> } | undefined {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0 || !isMap(doc.contents) || doc.contents.flow) return undefined;
  const pair = doc.contents.items.find((p) => isScalar(p.key) && p.key.value === 'groups');
  return { doc, pair };
}

function addOne(text: string, group: string, user: string): string | undefined {
  const found = rootGroups(text);
  if (!found) return undefined;
  const entry = `${scalar(group)}: [${scalar(user)}]`;
  if (!found.pair) {
    const sep = text.length === 0 || text.endsWith('\n') ? '' : '\n';
    return `${text}${sep}groups:\n  ${entry}\n`;
  }
  const key = range(found.pair.key);
  const map = found.pair.value;
  if (!key || !isMap(map) || !map.range) return undefined;
  const keyIndent = key[0] - lineStart(text, key[0]);
  const existing = map.items.find((p) => isScalar(p.key) && p.key.value === group);
  if (existing) return addToSeq(text, existing.value, user);
  if (map.flow) {
    if (map.items.length === 0) {
      let from = map.range[0];
      while (text[from - 1] === ' ') from--;
      return splice(text, from, map.range[1], `\n${' '.repeat(keyIndent + 2)}${entry}`);
    }
    const close = text.lastIndexOf('}', map.range[1] - 1);
    return close < map.range[0] ? undefined : splice(text, close, close, `, ${entry}`);
  }
  const first = range(map.items[0]?.key);
  const last = map.items[map.items.length - 1];
  const lastEnd = range(last?.value)?.[1] ?? range(last?.key)?.[1];
  if (!first || lastEnd === undefined) return undefined;
  const indent = text.slice(lineStart(text, first[0]), first[0]);
  if (!/^ *$/.test(indent)) return undefined;
  const at = lineEnd(text, lastEnd);
  return splice(text, at, at, `\n${indent}${entry}`);
}

function addToSeq(text: string, seq: unknown, user: string): string | undefined {
  if (!isSeq(seq) || !seq.range) return undefined;
  if (seq.flow) {
    if (seq.items.length === 0) return splice(text, seq.range[0], seq.range[1], `[${scalar(user)}]`);
    const close = text.lastIndexOf(']', seq.range[1] - 1);
    return close < seq.range[0] ? undefined : splice(text, close, close, `, ${scalar(user)}`);
  }
  const last = range(seq.items[seq.items.length - 1]);
  if (!last) return undefined;
  const prefix = text.slice(lineStart(text, last[0]), last[0]);
  if (!/^ *- +$/.test(prefix)) return undefined;
  const at = lineEnd(text, last[1]);
  return splice(text, at, at, `\n${prefix}${scalar(user)}`);
}

// Removes `user` from the first group that lists it; returns the text unchanged when none does.
function removeOne(text: string, user: string): string | undefined {
  const found = rootGroups(text);
  if (!found) return undefined;
  if (!found.pair) return text;
  const map = found.pair.value;
  if (!isMap(map)) return map === null || (isScalar(map) && map.value === null) ? text : undefined;
  for (const pair of (map as YAMLMap).items) {
    const seq = pair.value as YAMLSeq | null;
    if (!isSeq(seq) || !seq.range) continue;
    const idx = seq.items.findIndex((i) => isScalar(i) && i.value === user);
    if (idx === -1) continue;
    const item = range(seq.items[idx]);
    if (!item) return undefined;
    if (seq.flow) {
      if (seq.items.length === 1) return splice(text, seq.range[0], seq.range[1], '[]');
      if (idx > 0) {
        const prev = range(seq.items[idx - 1]);
        return prev ? splice(text, prev[1], item[1], '') : undefined;
      }
      const next = range(seq.items[1]);
      return next ? splice(text, item[0], next[0], '') : undefined;
    }
    const start = lineStart(text, item[0]);
    if (!/^ *- +$/.test(text.slice(start, item[0]))) return undefined;
    if (seq.items.length === 1) {
      const key = range(pair.key);
      return key ? splice(text, key[1], lineEnd(text, item[1]), ': []') : undefined;
    }
    return splice(text, start, Math.min(lineEnd(text, item[1]) + 1, text.length), '');
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// The fallback: JSON stays JSON; YAML goes through the Document API (comments kept).

function rerendered(text: string, expected: Record<string, unknown>, edit: GroupsEdit): string {
  if (/^\s*\{/.test(text)) {
    try {
      JSON.parse(text);
      return `${JSON.stringify(expected, null, 2)}\n`;
    } catch {
      // YAML flow syntax, not JSON: fall through
    }
  }
  const doc = parseDocument(text, { uniqueKeys: true });
  const groups = expected.groups as Groups;
  if (edit.kind === 'add') {
    for (const g of edit.groups) {
      const seq = doc.getIn(['groups', g], true);
      if (isSeq(seq)) {
        if (!seq.items.some((i) => isScalar(i) && i.value === edit.user)) seq.add(edit.user);
      } else {
        const node = doc.createNode(groups[g]);
        if (isSeq(node)) node.flow = true;
        doc.setIn(['groups', g], node);
      }
    }
  } else {
    const map = doc.get('groups', true);
    if (isMap(map)) {
      for (const pair of map.items) {
        const seq = pair.value;
        if (!isSeq(seq)) continue;
        seq.items = seq.items.filter((i) => !(isScalar(i) && i.value === edit.user));
      }
    }
  }
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}
