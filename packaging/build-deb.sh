#!/bin/bash
# Builds the Debian package of isolated into OUTDIR, leaving the source tree untouched.
#
#   packaging/build-deb.sh OUTDIR
#       The release build: dpkg-buildpackage -b on a copy of the source tree with
#       packaging/debian as its debian/ (configure, build with Debian's hardening
#       flags, run the unit tests, package). Needs the Build-Depends of
#       packaging/debian/control (scripts/install-deps.sh installs them).
#   packaging/build-deb.sh --prebuilt BUILD_DIR OUTDIR
#       Package an existing CMake build tree instead of compiling again (what the CI
#       test does: one build of the project per CI run). BUILD_DIR must be configured
#       with -DCMAKE_INSTALL_PREFIX=/usr (the daemon finds isolated-init through the
#       libexec path compiled into it); it is brought up to date first. The binaries
#       carry whatever flags that tree was built with, not Debian's hardening flags.
#
# Options: --nocheck (release build without the unit tests), --jobs N.
# Writes OUTDIR/isolated_VERSION_ARCH.deb and OUTDIR/cockpit-isolated_VERSION_all.deb
# (the Cockpit page), plus .buildinfo and .changes, and prints the path of
# isolated's .deb on the last line.
set -euo pipefail

usage() { sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

PREBUILT= OUT= NOCHECK=0 JOBS=$(nproc)
while [ $# -gt 0 ]; do
  case "$1" in
    --prebuilt) PREBUILT=${2:?--prebuilt needs a build directory}; shift 2 ;;
    --nocheck) NOCHECK=1; shift ;;
    --jobs) JOBS=${2:?--jobs needs a number}; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "build-deb.sh: unknown option $1" >&2; usage ;;
    *) [ -z "$OUT" ] || usage; OUT=$1; shift ;;
  esac
done
[ -n "$OUT" ] || usage

SRC=$(cd "$(dirname "$0")/.." && pwd)
for tool in dpkg-buildpackage dh dpkg-parsechangelog; do
  command -v "$tool" >/dev/null || {
    echo "build-deb.sh: $tool not found: install dpkg-dev and debhelper (scripts/install-deps.sh)" >&2; exit 2; }
done

# The package's upstream version must be the project's.
project_version=$(sed -n 's/^project(isolated VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
deb_version=$(dpkg-parsechangelog -l "$SRC/packaging/debian/changelog" -S Version)
if [ "${deb_version%-*}" != "$project_version" ]; then
  echo "build-deb.sh: packaging/debian/changelog is at $deb_version but CMakeLists.txt at $project_version:" >&2
  echo "  add a changelog entry for $project_version-1 (dch -v $project_version-1)" >&2
  exit 1
fi

if [ -n "$PREBUILT" ]; then
  PREBUILT=$(cd "$PREBUILT" && pwd)
  cache=$PREBUILT/CMakeCache.txt
  [ -f "$cache" ] || { echo "build-deb.sh: $PREBUILT is not a CMake build directory" >&2; exit 2; }
  prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:[A-Z]*=//p' "$cache")
  if [ "$prefix" != /usr ]; then
    echo "build-deb.sh: $PREBUILT is configured with CMAKE_INSTALL_PREFIX=$prefix; a package needs /usr" >&2
    echo "  (cmake -S $SRC -B $PREBUILT -DCMAKE_INSTALL_PREFIX=/usr, then build)" >&2
    exit 2
  fi
  home=$(sed -n 's/^CMAKE_HOME_DIRECTORY:[A-Z]*=//p' "$cache")
  if [ "$(cd "$home" && pwd -P)" != "$(cd "$SRC" && pwd -P)" ]; then
    echo "build-deb.sh: $PREBUILT was configured from $home, not from $SRC" >&2; exit 2
  fi
  # Up to date with the sources (a no-op right after a build). Configure first: the
  # generated build files may predate a target that the sources now have.
  cmake -S "$SRC" -B "$PREBUILT" >/dev/null
  cmake --build "$PREBUILT" -j"$JOBS" --target isolated isoctl isolated_init isolated_unpack manpages >/dev/null
fi

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/isolated-deb.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# A copy of the sources with packaging/debian as debian/: dpkg-buildpackage writes
# into the tree and its parent directory, neither of which may be the repository.
STAGE=$WORK/isolated-$project_version
mkdir -p "$STAGE"
if git -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # Tracked and new files, not ignored ones (build trees).
  # (--ignore-failed-read: a tracked file deleted in the work tree is not shipped.)
  git -C "$SRC" ls-files -z --cached --others --exclude-standard |
    tar -C "$SRC" --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -C "$STAGE" -xf -
else
  tar -C "$SRC" --exclude=./build --exclude='./build-*' --exclude='./obj-*' --exclude-vcs -cf - . | tar -C "$STAGE" -xf -
fi
rm -rf "$STAGE/debian"
cp -a "$SRC/packaging/debian" "$STAGE/debian"

args=(-b -us -uc -j"$JOBS")
if [ -n "$PREBUILT" ]; then
  export ISOLATED_PREBUILT=$PREBUILT
  # Nothing is compiled: the build dependencies that matter are those of the tree.
  args+=(-d)
elif [ "$NOCHECK" = 1 ]; then
  export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:+$DEB_BUILD_OPTIONS }nocheck"
  args+=(-Pnocheck)
fi

echo "build-deb.sh: dpkg-buildpackage ${args[*]} in $STAGE${PREBUILT:+ (prebuilt: $PREBUILT)}" >&2
(cd "$STAGE" && dpkg-buildpackage "${args[@]}") >"$WORK/build.log" 2>&1 || {
  tail -n 60 "$WORK/build.log" >&2
  echo "build-deb.sh: dpkg-buildpackage failed (last lines above)" >&2
  exit 1
}

shopt -s nullglob
results=("$WORK"/isolated_*.deb "$WORK"/cockpit-isolated_*.deb "$WORK"/isolated*.buildinfo "$WORK"/isolated*.changes "$WORK"/isolated-dbgsym_*.deb "$WORK"/isolated-dbgsym_*.ddeb)
cp "${results[@]}" "$OUT/"
cp "$WORK/build.log" "$OUT/build.log"
debs=("$WORK"/isolated_*.deb)
[ ${#debs[@]} = 1 ] || { echo "build-deb.sh: expected one isolated_*.deb, got ${#debs[@]}" >&2; exit 1; }
cockpit_debs=("$WORK"/cockpit-isolated_*.deb)
[ ${#cockpit_debs[@]} = 1 ] || { echo "build-deb.sh: expected one cockpit-isolated_*.deb, got ${#cockpit_debs[@]}" >&2; exit 1; }
echo "$OUT/$(basename "${debs[0]}")"
