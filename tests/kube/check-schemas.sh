#!/bin/bash
# Every manifest isoctl export kube writes for conf/apps and tests/kube/corpus, in each
# mode (defaults; --host-paths --host-ports with NodePort Services; LoadBalancer), is
# checked against the Kubernetes API schemas and for unknown fields
# (check-manifests.mjs, whose --self-test first shows both passes reject a broken
# manifest). Fails, never skips, without node or tests/js/node_modules.
# Usage: check-schemas.sh BUILD_DIR
set -euo pipefail
build=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

images() {
  local f n
  for f in "$1"/*.json; do
    n=$(basename "$f" .json)
    printf -- '--image\n%s=registry.example/isolated/%s:1\n' "$n" "$n"
  done
}

lists=()
for dir in "$src/conf/apps" "$src/tests/kube/corpus"; do
  mapfile -t imgs < <(images "$dir")
  i=0
  for mode in "" "--host-paths --host-ports --service-type NodePort" "--service-type LoadBalancer --pvc-size 5Gi --storage-class fast"; do
    out="$tmp/$(basename "$dir")-$i.json"
    # shellcheck disable=SC2086
    "$build/isoctl" export kube "$dir" "${imgs[@]}" $mode -o json >"$out" 2>"$out.warnings"
    lists+=("$out")
    i=$((i + 1))
  done
done
node "$src/tests/kube/check-manifests.mjs" --self-test "${lists[@]}"
