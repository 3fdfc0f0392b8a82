#!/bin/sh
# One-time (and idempotent) project set-up, run by `npm start` and `npm test`.
#
# Hardhat 3 and node-seal 7 need Node >= 22.13. Where the system Node is older, we fetch Node
# from the npm registry (the `node` package) into .toolchain/ and run `npm ci` under it: npm
# running on Node 20 silently skips Hardhat's native EDR package. The project also lists `node`
# as a devDependency, so node_modules/.bin/node is first on PATH inside every npm script and all
# of them run on the pinned Node, whatever the system one is.
set -eu
cd "$(dirname "$0")/.."

NODE_PIN=24.21.0
STAMP=node_modules/.medcipher-setup

node_is_recent() { # $1: a node binary
  "$1" -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=13)?0:1)' 2>/dev/null
}

lock_digest() { sha256sum package-lock.json package.json | sha256sum | cut -c1-64; }

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(lock_digest)" ] && [ -x node_modules/.bin/node ] \
   && node_is_recent node_modules/.bin/node; then
  exit 0
fi

if command -v node >/dev/null 2>&1 && node_is_recent "$(command -v node)"; then
  NODE_DIR=$(dirname "$(command -v node)")
else
  if ! [ -x .toolchain/node_modules/.bin/node ] || ! node_is_recent .toolchain/node_modules/.bin/node; then
    echo "medcipher setup: system Node $(node --version 2>/dev/null || echo none) is older than 22.13; fetching Node $NODE_PIN from the npm registry" >&2
    npm install --no-save --no-audit --no-fund --loglevel=error --prefix .toolchain "node@$NODE_PIN" >&2
  fi
  NODE_DIR=$(pwd)/.toolchain/node_modules/.bin
fi

echo "medcipher setup: installing dependencies with Node $("$NODE_DIR/node" --version)" >&2
PATH="$NODE_DIR:$PATH" npm ci --no-audit --no-fund --loglevel=error >&2

# npm skips optional platform packages whose engines do not match; fail loudly here rather
# than with Hardhat's HHE27 later.
if ! ls -d node_modules/@nomicfoundation/edr-linux-* >/dev/null 2>&1; then
  echo "medcipher setup: Hardhat's native EDR package is missing after npm ci" >&2
  exit 1
fi
lock_digest > "$STAMP"
echo "medcipher setup: done" >&2
