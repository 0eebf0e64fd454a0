#!/bin/bash
# Every manifest isoctl export kube writes for conf/apps and tests/kube/corpus, in each
# mode (defaults; --host-paths --host-ports with NodePort Services; LoadBalancer; --pin
# against an image store index made here for the image apps), is checked against the Kubernetes API schemas and for unknown fields
# (check-manifests.mjs, whose --self-test first shows both passes reject a broken
# manifest). Fails, never skips, without node or tests/js/node_modules.
# Usage: check-schemas.sh BUILD_DIR
set -euo pipefail
build=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --image for the apps that are no image apps (those export their own image).
images() {
  local f n
  for f in "$1"/*.json; do
    n=$(basename "$f" .json)
    grep -q '"type": *"image"' "$f" && continue
    printf -- '--image\n%s=registry.example/isolated/%s:1\n' "$n" "$n"
  done
}

# An image store's index naming the corpus's images (what --pin reads: refs, manifest
# digest), as a daemon whose state-dir is $tmp/state would keep it.
mkdir -p "$tmp/state/images"
echo "state-dir = $tmp/state" >"$tmp/isolated.conf"
hex() { printf '%064d' "$1"; }
cat >"$tmp/state/images/index.json" <<EOF
{"images": [
  {"id": "sha256:$(hex 1)", "manifest": "sha256:$(hex 11)", "refs": ["docker.io/library/nginx:1.27"]},
  {"id": "sha256:$(hex 2)", "manifest": "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
   "refs": ["registry.example/tools/worker@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"]},
  {"id": "sha256:$(hex 3)", "manifest": "sha256:$(hex 33)", "refs": ["docker.io/library/busybox:1.36"]}
]}
EOF

lists=()
for dir in "$src/conf/apps" "$src/tests/kube/corpus"; do
  mapfile -t imgs < <(images "$dir")
  i=0
  for mode in "" "--host-paths --host-ports --service-type NodePort" "--service-type LoadBalancer --pvc-size 5Gi --storage-class fast" \
    "--pin --config $tmp/isolated.conf"; do
    out="$tmp/$(basename "$dir")-$i.json"
    # shellcheck disable=SC2086
    "$build/isoctl" export kube "$dir" "${imgs[@]}" $mode -o json >"$out" 2>"$out.warnings"
    lists+=("$out")
    i=$((i + 1))
  done
done
node "$src/tests/kube/check-manifests.mjs" --self-test "${lists[@]}"
