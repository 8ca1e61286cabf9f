#!/usr/bin/env bash
# Build FerretDB v1.24.2 (a MongoDB-wire server on SQLite) with the machine's Go, once, into $1.
# `go install ...@v1.24.2` cannot be used: the module zip lacks build/version/version.txt and the
# binary panics at start, so the module is vendored and the file written before building.
set -euo pipefail
out=$1
version=v1.24.2
command -v go >/dev/null || { echo "FerretDB must be built, and that needs Go (apt-get install golang, or go.dev); or install mongod; or set MONGO_URL" >&2; exit 3; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
go mod init parley-ferretdb-build >/dev/null 2>&1
go get -tool "github.com/FerretDB/FerretDB/cmd/ferretdb@$version" >/dev/null
go mod vendor
echo "$version" > vendor/github.com/FerretDB/FerretDB/build/version/version.txt
mkdir -p "$(dirname "$out")"
go build -mod=vendor -o "$out.tmp" github.com/FerretDB/FerretDB/cmd/ferretdb
mv "$out.tmp" "$out"
# sed, not head: head exits after the first line and the binary, still writing, dies of SIGPIPE (exit 141 under pipefail).
"$out" --version | sed -n 1p
