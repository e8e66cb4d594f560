#!/usr/bin/env bash
# Builds the Kubernetes tools that the sandbox's clusters and the tests run, from their Go modules,
# pinned, into a cache outside the repo. These are only for the sandbox and the tests: our users run
# the actions against real EKS, with the kubectl/helm/helmfile already on their runners.
#
#   npm run kube-tools            build what is missing (does nothing when the cache is current)
#   KUBE_TOOLS_DIR=/path ...      cache elsewhere (default ~/.cache/eks-cluster-canary/tools)
#
# Each tool is built from a small go.mod of ours that requires the tool's module. Go ignores a
# dependency's `replace` lines, so ours restate them: k8s.io/kubernetes points its staging modules
# at ./staging/..., which become their published v0.x versions; etcd's point at sibling folders of
# its repo, which its own requires already name at the same tag, so they are dropped.
set -euo pipefail

K8S_VERSION=v1.35.4 # the Kubernetes minor EKS runs; staging modules are v0.35.4
ETCD_VERSION=v3.6.16
HELM_VERSION=v3.22.0
HELM_DIFF_VERSION=v3.9.14 # the only helm-diff version the Go module proxy serves here
HELMFILE_VERSION=v1.8.0

CACHE=${KUBE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/eks-cluster-canary/tools}
WORK=$CACHE/.build
mkdir -p "$CACHE" "$WORK"
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local

if ! command -v go >/dev/null 2>&1; then
  echo "kube-tools: 'go' is not on PATH. Install Go 1.26 (it builds these test tools only)." >&2
  exit 1
fi

log_tail() { tail -n 25 "$1" | sed 's/^/    /' >&2; }

# build NAME VERSION DIR STEP... : runs the steps in DIR unless CACHE/NAME-VERSION/.done exists.
started_all=$(date +%s)
build() {
  local name=$1 version=$2 fn=$3
  local dest=$CACHE/$name-$version
  if [ -f "$dest/.done" ]; then
    echo "kube-tools: $name $version cached ($dest)"
    return 0
  fi
  local t0 logf
  t0=$(date +%s)
  logf=$WORK/$name-$version.log
  rm -rf "$dest" && mkdir -p "$dest"
  echo "kube-tools: building $name $version ..."
  # In a subshell with its own errexit: bash ignores `set -e` inside a function called from an
  # `if` condition, which would let a failed step pass as built.
  local rc=0
  set +e
  (
    set -e
    "$fn" "$dest"
  ) >"$logf" 2>&1
  rc=$?
  set -e
  if [ "$rc" -ne 0 ]; then
    echo "kube-tools: building $name $version failed at step '$(cat "$WORK/step" 2>/dev/null)'. Last lines of the Go output ($logf):" >&2
    log_tail "$logf"
    exit 1
  fi
  touch "$dest/.done"
  echo "kube-tools: $name $version built in $(($(date +%s) - t0))s ($dest)"
}
step() { echo "$1" >"$WORK/step"; echo "== $1"; }

# A module of ours requiring MODULE@VERSION with REPLACES (lines `old => new version`).
gomod() {
  local dir=$1 module=$2 version=$3 replaces=$4
  rm -rf "$dir" && mkdir -p "$dir"
  {
    echo "module ekscanary.local/kubetools"
    echo "go 1.26"
    echo "require $module $version"
    if [ -n "$replaces" ]; then
      echo "replace ("
      echo "$replaces"
      echo ")"
    fi
  } >"$dir/go.mod"
}

# The replace lines of MODULE@VERSION's go.mod that still make sense outside its repo.
upstream_replaces() {
  local modfile
  modfile=$(go mod download -json "$1@$2" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  awk '/^replace \(/{inb=1; next} inb && /^\)/{inb=0; next}
       inb {print} /^replace [^(]/{sub(/^replace /,""); print}' "$modfile" | sed 's://.*$::' | grep '=>' || true
}

build_kubernetes() {
  local dest=$1 dir=$WORK/kubernetes staging
  step "resolve k8s.io/kubernetes@$K8S_VERSION"
  staging="v0.${K8S_VERSION#v1.}"
  local replaces
  replaces=$(upstream_replaces k8s.io/kubernetes "$K8S_VERSION" |
    sed -E "s#=> *\./staging/src/(.*)\$#=> \1 $staging#")
  gomod "$dir" k8s.io/kubernetes "$K8S_VERSION" "$replaces"
  local minor=${K8S_VERSION#v1.}
  minor=${minor%%.*}
  local ld="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ld="$ld -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  for cmd in kube-apiserver kube-controller-manager kubectl; do
    step "go build k8s.io/kubernetes/cmd/$cmd"
    (cd "$dir" && go build -ldflags "$ld" -o "$dest/$cmd" "k8s.io/kubernetes/cmd/$cmd")
  done
}

build_etcd() {
  local dest=$1 dir=$WORK/etcd
  step "resolve go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  local replaces
  replaces=$(upstream_replaces go.etcd.io/etcd/server/v3 "$ETCD_VERSION" | grep -vE '=> *\.' || true)
  gomod "$dir" go.etcd.io/etcd/server/v3 "$ETCD_VERSION" "$replaces"
  step "go build go.etcd.io/etcd/server/v3"
  (cd "$dir" && go build -ldflags "-s -w" -o "$dest/etcd" go.etcd.io/etcd/server/v3)
}

build_helm() {
  local dest=$1 dir=$WORK/helm
  step "resolve helm.sh/helm/v3@$HELM_VERSION"
  gomod "$dir" helm.sh/helm/v3 "$HELM_VERSION" "$(upstream_replaces helm.sh/helm/v3 "$HELM_VERSION" | grep -vE '=> *\.' || true)"
  step "go build helm.sh/helm/v3/cmd/helm"
  (cd "$dir" && go build -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" -o "$dest/helm" helm.sh/helm/v3/cmd/helm)
}

# helm-diff is a helm plugin: a folder with plugin.yaml and the binary it names. The tests point
# HELM_PLUGINS at CACHE/helm-plugins.
build_helm_diff() {
  local dest=$1 dir=$WORK/helm-diff src
  # The checksum database has no entry for this module here (the lookup answers 404), so go
  # cannot verify it there; the version stays pinned and go.sum records what was downloaded.
  export GONOSUMDB=github.com/databus23/helm-diff
  step "resolve github.com/databus23/helm-diff/v3@$HELM_DIFF_VERSION"
  gomod "$dir" github.com/databus23/helm-diff/v3 "$HELM_DIFF_VERSION" "$(upstream_replaces github.com/databus23/helm-diff/v3 "$HELM_DIFF_VERSION" | grep -vE '=> *\.' || true)"
  src=$(cd "$dir" && go mod download -json "github.com/databus23/helm-diff/v3@$HELM_DIFF_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  step "go build github.com/databus23/helm-diff/v3"
  mkdir -p "$dest/diff/bin"
  (cd "$dir" && go build -ldflags "-s -w -X github.com/databus23/helm-diff/v3/cmd.Version=${HELM_DIFF_VERSION#v}" -o "$dest/diff/bin/diff" github.com/databus23/helm-diff/v3)
  # The plugin manifest, without the install hooks that would download a release binary.
  awk '/^hooks:/{skip=1; next} skip && /^[^ ]/{skip=0} !skip' "$src/plugin.yaml" >"$dest/diff/plugin.yaml"
  chmod -R u+w "$dest/diff"
}

build_helmfile() {
  local dest=$1 dir=$WORK/helmfile
  step "resolve github.com/helmfile/helmfile@$HELMFILE_VERSION"
  gomod "$dir" github.com/helmfile/helmfile "$HELMFILE_VERSION" "$(upstream_replaces github.com/helmfile/helmfile "$HELMFILE_VERSION" | grep -vE '=> *\.' || true)"
  step "go build github.com/helmfile/helmfile"
  (cd "$dir" && go build -ldflags "-s -w -X go.szostok.io/version.version=$HELMFILE_VERSION" -o "$dest/helmfile" github.com/helmfile/helmfile)
}

# Everything runs from main, called on the last line: bash has then read the whole file, so
# editing or checking out this script while a build runs cannot make bash run a half-read line.
main() {
  build etcd "$ETCD_VERSION" build_etcd
  build helm "$HELM_VERSION" build_helm
  build helm-diff "$HELM_DIFF_VERSION" build_helm_diff
  build helmfile "$HELMFILE_VERSION" build_helmfile
  build kubernetes "$K8S_VERSION" build_kubernetes

  # One folder of links the sandbox and tests put first on PATH, and the plugin folder for HELM_PLUGINS.
  mkdir -p "$CACHE/bin" "$CACHE/helm-plugins"
  ln -sfn "$CACHE/etcd-$ETCD_VERSION/etcd" "$CACHE/bin/etcd"
  for cmd in kube-apiserver kube-controller-manager kubectl; do
    ln -sfn "$CACHE/kubernetes-$K8S_VERSION/$cmd" "$CACHE/bin/$cmd"
  done
  ln -sfn "$CACHE/helm-$HELM_VERSION/helm" "$CACHE/bin/helm"
  ln -sfn "$CACHE/helmfile-$HELMFILE_VERSION/helmfile" "$CACHE/bin/helmfile"
  ln -sfn "$CACHE/helm-diff-$HELM_DIFF_VERSION/diff" "$CACHE/helm-plugins/diff"
  printf '{"kubernetes":"%s","etcd":"%s","helm":"%s","helmDiff":"%s","helmfile":"%s"}\n' \
    "$K8S_VERSION" "$ETCD_VERSION" "$HELM_VERSION" "$HELM_DIFF_VERSION" "$HELMFILE_VERSION" >"$CACHE/versions.json"
  echo "kube-tools: all tools ready in $CACHE/bin ($(($(date +%s) - started_all))s)"
}

main "$@"; exit $?
