#!/usr/bin/env bash
# One thing a make target needs, installed when it is missing: says what it installs and why, and
# says nothing when it is already there (a `command -v` or an import, so a second run takes
# seconds). Where it cannot install (not root and no sudo, no apt-get, no pip, no go) it says so
# and what runs without it, and exits 0 — except under CI=true, where a missing tool is an error
# (CI must exercise every real binary, as measure/src/binaries.ts requireBinary says).
#
#   need.sh apt        <command> <debian-package> <why>   apt-get install
#   need.sh apt-daemon <command> <debian-package> <why>   the same, then stops the package's own
#                                                          service (the lab and tests run private ones)
#   need.sh pip        <command|python:module|dist:name> <pip-spec> <why>  (dist: the installed
#                                                          version must match the spec's, else replaced)
#   need.sh go         <command> <module@version> <why>   into $(go env GOPATH)/bin
#   need.sh image-node <why>                              the Dockerfile's Node (measure/src/image-node.ts)
#   need.sh kube       <why>                              the local control plane's binaries (k8s/kube)
set -uo pipefail
cd "$(dirname "$0")/.."

node_ts=(node --conditions=source --import tsx)

say() { echo "need: $*"; }

# Missing and not installable here: locally the dependent parts skip or fall back; CI fails.
cannot() {
  local what=$1 reason=$2
  if [ "${CI:-}" = true ]; then
    say "cannot install $what ($reason), and CI=true needs it" >&2
    exit 1
  fi
  say "cannot install $what ($reason); going on without it"
  exit 0
}

installing() { say "installing $1: $2"; }

# Root runs apt-get itself; otherwise sudo, without a password prompt unless a person is at the
# terminal to answer it.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then sudo "$@"
  else return 77
  fi
}

can_be_root() {
  [ "$(id -u)" = 0 ] || { command -v sudo >/dev/null && { sudo -n true 2>/dev/null || [ -t 0 ]; }; }
}

gobin() { echo "$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"; }

# A command on PATH, or where `go install` put it (tests look there too: measure/src/binaries.ts).
have_command() { command -v "$1" >/dev/null 2>&1 || [ -x "$(gobin)/$1" ]; }

need_apt() {
  local cmd=$1 package=$2 why=$3
  have_command "$cmd" && return 0
  command -v apt-get >/dev/null || cannot "$package" "no apt-get: install it with your package manager"
  can_be_root || cannot "$package" "apt-get needs root: not root and no sudo"
  installing "$package (apt)" "$why"
  # Package lists are fetched only when this package is not in them yet (a fresh image has none).
  apt-cache show "$package" >/dev/null 2>&1 || as_root apt-get update -qq || cannot "$package" "apt-get update failed"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" ||
    cannot "$package" "apt-get install failed"
}

# Debian's redis-server and prometheus packages start their own daemons on 6379 and 9090 where an
# init system runs; the lab and the tests start private ones on their own ports, so the packaged
# service is stopped and disabled (through systemd or its init script, never by name).
stop_packaged_service() {
  local service=$1
  if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
    say "disabling the system $service service (the lab starts its own)"
    as_root systemctl disable --now "$service" >/dev/null 2>&1 || true
  elif [ -x "/etc/init.d/$service" ]; then
    as_root "/etc/init.d/$service" stop >/dev/null 2>&1 || true
  fi
}

# True when the installed distribution matches the spec's version (`name==1.38.*` or `name==1.38.3`).
dist_matches() {
  python3 - "$1" "$2" 2>/dev/null <<'PY'
import importlib.metadata as metadata, sys
name, spec = sys.argv[1], sys.argv[2]
try:
    version = metadata.version(name)
except metadata.PackageNotFoundError:
    sys.exit(1)
wanted = spec.split('==', 1)[1] if '==' in spec else ''
if wanted.endswith('.*'):
    sys.exit(0 if version.startswith(wanted[:-1]) else 1)
sys.exit(0 if wanted in ('', version) else 1)
PY
}

need_pip() {
  local probe=$1 spec=$2 why=$3
  if [[ $probe == python:* ]]; then
    python3 -c "import ${probe#python:}" 2>/dev/null && return 0
  elif [[ $probe == dist:* ]]; then
    dist_matches "${probe#dist:}" "$spec" && return 0
  else
    have_command "$probe" && return 0
  fi
  command -v python3 >/dev/null || cannot "$spec" "no python3"
  python3 -m pip --version >/dev/null 2>&1 || cannot "$spec" "no pip for python3 (apt-get install python3-pip)"
  installing "$spec (pip)" "$why"
  # Debian marks its Python externally managed (PEP 668): a user install is the fallback.
  python3 -m pip install --quiet "$spec" 2>/dev/null ||
    python3 -m pip install --quiet --user --break-system-packages "$spec" ||
    cannot "$spec" "pip install failed"
  if command -v pyenv >/dev/null; then pyenv rehash || true; fi
}

need_go() {
  local cmd=$1 module=$2 why=$3
  have_command "$cmd" && return 0
  command -v go >/dev/null || cannot "$cmd" "no go toolchain: https://go.dev/doc/install"
  installing "$cmd (go install $module)" "$why"
  GOFLAGS=-mod=mod go install "$module" || cannot "$cmd" "go install failed"
}

need_image_node() {
  local why=$1 binary
  binary=$("${node_ts[@]}" measure/src/image-node.ts path) || exit 1
  [ -x "$binary" ] && return 0
  installing "the images' Node ($binary, from npm)" "$why"
  "${node_ts[@]}" measure/src/image-node.ts install >/dev/null || cannot "the images' Node" "npm pack failed"
}

need_kube() {
  local why=$1
  "${node_ts[@]}" --input-type=module -e \
    "const b = await import('./k8s/kube/build.ts'); process.exit(b.toolNames.every((n) => b.isBuilt(n)) ? 0 : 1)" &&
    return 0
  command -v go >/dev/null || cannot "the local control plane" "no go toolchain: https://go.dev/doc/install"
  installing "the local control plane (etcd, Kubernetes, kwok, istioctl, kube-score from the Go module proxy, about 8 min the first time)" "$why"
  "${node_ts[@]}" k8s/kube/cli.ts build || cannot "the local control plane" "its build failed"
}

kind=${1:-}
shift || true
case "$kind" in
  apt) need_apt "$@" ;;
  apt-daemon)
    have_command "$1" && exit 0
    need_apt "$@"
    stop_packaged_service "$2"
    ;;
  pip) need_pip "$@" ;;
  go) need_go "$@" ;;
  image-node) need_image_node "$@" ;;
  kube) need_kube "$@" ;;
  *)
    echo "usage: need.sh apt|apt-daemon|pip|go <command> <package> <why> | image-node <why> | kube <why>" >&2
    exit 2
    ;;
esac
