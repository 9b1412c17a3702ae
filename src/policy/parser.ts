import * as parse from './parse.js';

/**
 * The YAML parser and the policy schema (parse.ts). Here they are imported like any module; the
 * production bundle replaces this file with one that loads them on the first call instead
 * (scripts/postbuild.mjs), so a plugin serving the built-in default policy never loads them.
 */
export const policyParser = (): typeof parse => parse;
