#!/usr/bin/env bash
# The static checks a reviewer runs, each one even when another fails: `npm run check`, and .ci/run
# before the tests. Last line: "static checks: N passed, M failed"; exits non-zero on a failure.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

checks=(lint typecheck format:check shellcheck) # npm scripts in package.json
passed=0
failed=0
for check in "${checks[@]}"; do
  echo "--- npm run $check"
  if npm run --silent "$check"; then
    passed=$((passed + 1))
  else
    echo "FAILED: npm run $check"
    failed=$((failed + 1))
  fi
done
echo "static checks: $passed passed, $failed failed"
((failed == 0))
