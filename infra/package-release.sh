#!/usr/bin/env bash
# Assembles a release directory for S3: the EIF and its pcrs.json (from
# enclave-image/build.sh), the host binary, and systemd.tar (units, allocator
# config, DB URL helper) laid out relative to /etc as the launch template
# unpacks it.
#   infra/package-release.sh --image DIR --out RELEASE_DIR
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
image="" out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --image) image=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    *) echo "usage: $0 --image DIR --out RELEASE_DIR" >&2; exit 64 ;;
  esac
done
[[ -n $image && -n $out ]] || { echo "usage: $0 --image DIR --out RELEASE_DIR" >&2; exit 64; }
mkdir -p "$out"
cp "$image/strongroom-enclave.eif" "$image/pcrs.json" "$out/"
(cd "$root" && cargo build --locked --release -p strongroom-host --bin strongroom-host)
cp "$root/target/release/strongroom-host" "$out/"
stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT
install -D -m 0644 -t "$stage/systemd/system" "$root"/infra/systemd/*.service "$root"/infra/systemd/*.timer
install -D -m 0755 "$root/infra/systemd/fetch-db-url" "$stage/strongroom/fetch-db-url"
install -D -m 0644 "$root/infra/allocator.yaml" "$stage/nitro_enclaves/allocator.yaml"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$stage" -cf "$out/systemd.tar" .
(cd "$out" && sha384sum strongroom-enclave.eif pcrs.json strongroom-host systemd.tar > SHA384SUMS)
echo "release in $out; EifSha384 = $(sha384sum "$out/strongroom-enclave.eif" | cut -d' ' -f1)"
