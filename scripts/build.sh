#!/usr/bin/env bash
# Builds the `phoenix` executable, installing libhiredis-dev first when it is missing.
#
#   scripts/build.sh                 debug build, .build/debug/phoenix (what `make dev` runs)
#   scripts/build.sh release DIR     release build with the Swift runtime linked in (--static-swift-stdlib),
#                                    linked by lld with packed relative relocations (below), staged as the
#                                    container image holds it (what Dockerfile.worker runs):
#                                    DIR/bin/phoenix, its resource bundles beside it (Foundation looks for
#                                    them next to the executable), DIR/migrations.
#   scripts/build.sh debug DIR       the debug build staged the same way (scripts/check-image-layout.sh in
#                                    `make test`: the image's layout without a release build's minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/services.sh

ensure_packages libhiredis-dev
# Copies the built executable, its resource bundles and the migrations into $2 as the image holds them.
stage() {
  local bin=$1 stage=$2
  mkdir -p "$stage/bin"
  # Without debug information (symbols stay, for backtraces): about 120 MB instead of 190 MB.
  strip --strip-debug -o "$stage/bin/phoenix" "$bin/phoenix"
  rm -rf "$stage"/bin/phoenix-jobs_*.resources
  cp -R "$bin"/phoenix-jobs_*.resources "$stage/bin/"
  rm -rf "$stage/migrations"
  cp -R Deploy/supabase/migrations "$stage/migrations"
  echo "staged phoenix in $stage" >&2
}

case "${1:-debug}" in
  debug)
    swift build --product phoenix
    [ -z "${2:-}" ] || stage "$(swift build --show-bin-path)" "$2"
    ;;
  release)
    staging=${2:?"scripts/build.sh release needs the folder to stage the build in"}
    # With the Swift runtime linked in, the executable holds about 150,000 relative relocations. gold writes
    # them as 3.6 MB of RELA entries, which the loader reads, and keeps resident, in every process; lld's
    # packed form (DT_RELR, read by glibc 2.36 and later: bookworm's) is 50 KB, and an idle worker's RSS
    # is about 2 MB smaller (docs/BENCHMARKS.md, "Worker RSS").
    swift build -c release --product phoenix --static-swift-stdlib \
      -Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs
    stage "$(swift build -c release --show-bin-path)" "$staging"
    ;;
  *)
    echo "scripts/build.sh: unknown build '$1'; expected debug [DIR] or release DIR" >&2
    exit 2
    ;;
esac
