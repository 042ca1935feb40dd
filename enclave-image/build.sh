#!/usr/bin/env bash
# Reproducible Strongroom enclave image.
#
#   enclave-image/build.sh --out DIR [--sign-cert PEM --sign-key PEM|KMS_ARN]
#                          [--app-binary BIN]   (testing only: skip the enclave build)
#
# Writes DIR/strongroom-enclave.eif, DIR/pcrs.json, DIR/application.cpio and
# DIR/inputs.txt (SHA-384 of every input). See enclave-image/README.md.
#
# Kernel inputs, in order of preference:
#   1. $NITRO_BLOBS or /usr/share/nitro_enclaves/blobs/{bzImage,cmdline,init,nsm.ko}
#      (installed by aws-nitro-enclaves-cli on a parent instance): the production path.
#   2. Otherwise (CI, laptops) a STAND-IN: the kernel of Debian's linux-image-amd64
#      package and a bootstrap ramdisk of busybox-static plus ci-bootstrap/init,
#      fetched with `apt-get download` (never installed). Such an image is for
#      determinism tests and qemu only; it does not boot on Nitro and its
#      PCR0/PCR1 are not release measurements. PCR2 (application) is the same.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
out="" app_binary="" sign=()

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 64; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out=${2:?}; shift 2 ;;
    --app-binary) app_binary=$(realpath "${2:?}"); shift 2 ;;
    --sign-cert) sign+=(--sign-cert "$(realpath "${2:?}")"); shift 2 ;;
    --sign-key) k=${2:?}; [[ $k == arn:* ]] || k=$(realpath "$k"); sign+=(--sign-key "$k"); shift 2 ;;
    -h|--help) usage ;;
    *) echo "build.sh: unknown argument $1" >&2; usage ;;
  esac
done
[[ -n $out ]] || usage
mkdir -p "$out"; out=$(cd "$out" && pwd)

# Everything below must be a function of the source tree and the inputs only.
export LC_ALL=C TZ=UTC CARGO_INCREMENTAL=0
if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
  SOURCE_DATE_EPOCH=$(git -C "$root" log -1 --format=%ct 2>/dev/null || true)
  SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1767225600}   # no commit yet: a constant
fi
export SOURCE_DATE_EPOCH
work=${EIF_BUILD_DIR:-"$root/target/eif-build"}   # EIF_BUILD_DIR: shared by reproducibility checks
export CARGO_TARGET_DIR="$work/target"   # keeps the main target dir untouched
mkdir -p "$work"
log() { echo "build.sh: $*" >&2; }

# 1. The builder tool (its own output does not depend on how it was compiled).
cargo build --locked -q -p strongroom-enclave-image --bin strongroom-eif --manifest-path "$root/Cargo.toml"
eif_tool="$CARGO_TARGET_DIR/debug/strongroom-eif"

# 2. The enclave binary: static, pinned toolchain (rust-toolchain.toml), --locked,
#    paths remapped so neither the checkout location nor $HOME leaks in.
if [[ -z $app_binary ]]; then
  triple=x86_64-unknown-linux-gnu
  sysroot=$(cd "$root" && rustc --print sysroot)
  cargo_home=${CARGO_HOME:-$HOME/.cargo}
  # The release feature set, named here rather than left to the crate's
  # defaults, so a default added for development can never reach the
  # measured image. The NSM simulator (feature dev-simulator: a dev CA and
  # forged attestation; it forwards strongroom-enclave-core/dev-simulator,
  # the core's test-only `insecure_…` constructors) must never be in it:
  # scripts/checks/release-features reads this line and checks the graph
  # (both crates' features) and the binary for this set.
  release_features=""
  log "building strongroom-enclave (release, static, $triple, features \"$release_features\")"
  (cd "$root" && \
   RUSTFLAGS="-C target-feature=+crt-static \
--remap-path-prefix=$cargo_home=/cargo --remap-path-prefix=$sysroot=/rustc \
--remap-path-prefix=$root=/strongroom --remap-path-prefix=$work=/build" \
   CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=symbols \
   cargo build --locked --release -p strongroom-enclave --bin strongroom-enclave --target "$triple" \
     --no-default-features --features "$release_features")
  app_binary="$CARGO_TARGET_DIR/$triple/release/strongroom-enclave"
  if readelf -lW "$app_binary" 2>/dev/null | grep -q 'INTERP'; then
    log "error: $app_binary is dynamically linked"; exit 1
  fi
fi

# 3. Kernel, command line and bootstrap ramdisk.
blobs=${NITRO_BLOBS:-/usr/share/nitro_enclaves/blobs}
boot="$work/bootstrap.cpio"
if [[ -f $blobs/bzImage && -f $blobs/cmdline && -f $blobs/init ]]; then
  kernel_source="aws-nitro-enclaves-cli blobs in $blobs"
  kernel="$blobs/bzImage" cmdline="$blobs/cmdline"
  nsm=(); [[ -f $blobs/nsm.ko ]] && nsm=(--nsm-ko "$blobs/nsm.ko")
  "$eif_tool" bootstrap-ramdisk --init "$blobs/init" "${nsm[@]}" --out "$boot"
else
  deb="$work/debian"; mkdir -p "$deb"
  kpkg=${DEBIAN_KERNEL_PACKAGE:-}
  if [[ -z $kpkg ]]; then
    apt-cache show linux-image-amd64 >/dev/null 2>&1 || apt-get update -qq
    kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  fi
  for pkg in "$kpkg" busybox-static; do
    ls "$deb/${pkg}"_*.deb >/dev/null 2>&1 || (cd "$deb" && apt-get download -qq -o APT::Sandbox::User=root "$pkg")
  done
  kdeb=$(ls "$deb/${kpkg}"_*.deb | head -n1); bdeb=$(ls "$deb"/busybox-static_*.deb | head -n1)
  rm -rf "$deb/x" && mkdir -p "$deb/x"
  dpkg-deb -x "$kdeb" "$deb/x" && dpkg-deb -x "$bdeb" "$deb/x"
  kernel=$(ls "$deb"/x/boot/vmlinuz-* | head -n1)
  cmdline="console=ttyS0 panic=-1 rdinit=/init"
  kernel_source="CI STAND-IN: $(basename "$kdeb") + $(basename "$bdeb") (not a Nitro kernel)"
  "$eif_tool" bootstrap-ramdisk --init "$here/ci-bootstrap/init" \
    --extra "bin/busybox=$deb/x/bin/busybox" --out "$boot"
fi
log "kernel inputs: $kernel_source"

# 4. The image. The command line of the enclave program is measured (PCR2).
# ENCLAVE_KMS_KEY_ARN pins the one KMS key the ring may be sealed with
# (--kms-key-arn, measured with the rest of the command line); unset, the
# image has KMS mode off and keeps its ring only through attested peers.
kms_pin=()
if [[ -n ${ENCLAVE_KMS_KEY_ARN:-} ]]; then
  kms_pin=(--arg --kms-key-arn --arg "$ENCLAVE_KMS_KEY_ARN")
fi
# The log (measured too): ENCLAVE_LOG_ORIGIN is the checkpoint origin prefix;
# ENCLAVE_WITNESSES the witnesses' cosignature/v1 verifier keys (spaces
# between them) and ENCLAVE_WITNESS_QUORUM how many must cosign (default:
# all). Unset: a log without witnesses, whose forks only clients that insist
# on cosignatures would catch (README, "Witnesses").
log_args=()
if [[ -n ${ENCLAVE_LOG_ORIGIN:-} ]]; then
  log_args+=(--arg --log-origin --arg "$ENCLAVE_LOG_ORIGIN")
fi
for vkey in ${ENCLAVE_WITNESSES:-}; do
  log_args+=(--arg --witness --arg "$vkey")
done
if [[ -n ${ENCLAVE_WITNESS_QUORUM:-} ]]; then
  log_args+=(--arg --witness-quorum --arg "$ENCLAVE_WITNESS_QUORUM")
fi
"$eif_tool" build --kernel "$kernel" --cmdline "$cmdline" --bootstrap-ramdisk "$boot" \
  --app-binary "$app_binary" --config-dir "$here/config" \
  --arg --listen --arg "${ENCLAVE_LISTEN:-vsock://4294967295:5000}" \
  --arg --egress --arg "${ENCLAVE_EGRESS:-vsock://3:8001}" \
  "${kms_pin[@]}" "${log_args[@]}" \
  --env RUST_LOG=info \
  --out "$out" "${sign[@]}" >/dev/null

{
  echo "kernel_source: $kernel_source"
  echo "source_date_epoch: $SOURCE_DATE_EPOCH"
  echo "rustc: $(cd "$root" && rustc --version)"
  [[ -f $cmdline ]] && echo "cmdline: $(cat "$cmdline")" || echo "cmdline: $cmdline"
  (cd / && sha384sum "$kernel" "$boot" "$app_binary" "$out/application.cpio" "$out/strongroom-enclave.eif") \
    | sed -e "s|$root/|./|" -e "s|$out/||"
} > "$out/inputs.txt"
cat "$out/pcrs.json"
