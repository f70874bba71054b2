#!/bin/sh
# Compiles the project into a private folder and runs one of its scripts, so that several
# runs at once (and `npm start`'s dist/) never trample each other.
# TypeScript is compiled with tsc because the decorators need emitted metadata.
set -e
mkdir -p .build
out=$(mktemp -d .build/run-XXXXXX)
trap 'rm -rf "$out"' EXIT
tsc -p tsconfig.build.json --outDir "$out"
script=$1
shift
node "$out/$script" "$@"
