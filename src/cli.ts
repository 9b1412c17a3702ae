#!/usr/bin/env node
import { main } from './cli/main.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`docker-authz: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
