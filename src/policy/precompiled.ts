import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Policy } from './schema.js';

/**
 * The built-in default policy as the build validated it (dist/default-policy.json, written by
 * scripts/postbuild.mjs from policy/default.yaml): its text's sha256, and the policy parsePolicy
 * makes of that text. A text with that hash is the same text, so it is put in force without the
 * YAML parser and the schema; that includes an installed copy nobody has edited. Without the file
 * (running from src/), every text is parsed.
 */
interface Precompiled {
  readonly sha256: string;
  readonly length: number;
  /** The policy's JSON text: parsed for each use, so no two users share objects. */
  readonly json: string;
}

let table: Precompiled | null | undefined;

function load(): Precompiled | null {
  try {
    const { sha256, length, policy } = JSON.parse(readFileSync(new URL('../default-policy.json', import.meta.url), 'utf8')) as {
      sha256: string;
      length: number;
      policy: unknown;
    };
    return { sha256, length, json: JSON.stringify(policy) };
  } catch {
    return null;
  }
}

/** The validated policy when `text` is the built-in default policy's text, else undefined. */
export function precompiledPolicy(text: string): Policy | undefined {
  table ??= load();
  if (table === null || text.length !== table.length) return undefined;
  if (createHash('sha256').update(text).digest('hex') !== table.sha256) return undefined;
  return JSON.parse(table.json) as Policy;
}

/** What the build writes to dist/default-policy.json for the default policy's text and the policy it parses to. */
export function precompile(text: string, policy: Policy): string {
  return `${JSON.stringify({ sha256: createHash('sha256').update(text).digest('hex'), length: text.length, policy })}\n`;
}
