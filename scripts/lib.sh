# Shared by scripts/demo, scripts/test and scripts/image: installing what they need on a fresh
# Debian 12 machine (as root) and building ipcrt. Sourced, not run.
set -euo pipefail

IPCRT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Services have a private /tmp and /var/tmp (SPEC §4.3): programs built there would not exist
# in their view. And they run as dynamic users: programs under a directory others may not
# search (`mktemp -d` makes 0700 ones) are not theirs to exec. Such a checkout builds outside
# it, in a folder of its own.
searchable_by_all() {
  local dir=$1
  while [ "$dir" != / ]; do
    [ $((0$(stat -c %a "$dir") & 1)) -eq 1 ] || return 1
    dir=$(dirname "$dir")
  done
}
default_build_dir() {
  case "$IPCRT_ROOT/" in
    /tmp/* | /var/tmp/*) ;;
    *) if searchable_by_all "$IPCRT_ROOT"; then echo "$IPCRT_ROOT/build"; return; fi ;;
  esac
  echo "/var/lib/ipcrt-build/$(printf '%s' "$IPCRT_ROOT" | sha256sum | cut -c1-16)"
}
IPCRT_BUILD=${IPCRT_BUILD:-$(default_build_dir)}
IPCRT_JOBS=${IPCRT_JOBS:-$(nproc)}

# mosquitto, mosquitto-clients: the Debian daemon the gateway suite confines (examples/mosquitto);
# on a machine with systemd the package also starts its own broker on localhost:1883, which the
# test leaves alone (it listens on a free port).
HOST_PACKAGES="cmake ninja-build g++ pkg-config libseccomp-dev nlohmann-json3-dev libcpputest-dev
  python3 python3-jsonschema busybox-static bubblewrap mosquitto mosquitto-clients"
CROSS_PACKAGES="g++-aarch64-linux-gnu g++-arm-linux-gnueabihf qemu-user-static
  libseccomp-dev:arm64 libseccomp-dev:armhf libcpputest-dev:arm64 libcpputest-dev:armhf"
IMAGE_PACKAGES="qemu-system-arm cpio e2fsprogs"
FUZZ_PACKAGES="clang-19 libclang-rt-19-dev"
# crun: the OCI runtime the start-up benchmark compares beside bubblewrap (scripts/bench).
BENCH_PACKAGES="crun"

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# package_installed PKG: true if PKG (PKG:ARCH, or else the native or arch-independent
# instance, since multiarch installs several instances of one name) is installed.
package_installed() {
  local name=${1%%:*} wanted=${1#*:}
  [ "$wanted" = "$1" ] && wanted=$(dpkg --print-architecture)
  dpkg-query -W -f='${Architecture} ${Status}\n' "$name" 2>/dev/null |
    grep -qE "^($wanted|all) install ok installed\$"
}

# ensure_packages PKG...: installs the missing ones; enables arm64/armhf multiarch if needed.
ensure_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    package_installed "$pkg" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}): run as root so they can be installed"
  local foreign
  foreign=$(dpkg --print-foreign-architectures)
  for arch in arm64 armhf; do
    if printf '%s\n' "${missing[@]}" | grep -q ":$arch\$" && ! grep -qx "$arch" <<<"$foreign"; then
      dpkg --add-architecture "$arch"
    fi
  done
  say "installing ${missing[*]}"
  # A mirror caught mid-sync fails one index now and then: retry before giving up.
  local attempt
  for attempt in 1 2 3; do
    apt-get update -qq || true
    if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
      return 0
    fi
    sleep $((attempt * 5))
  done
  die "could not install ${missing[*]} (see apt-get's messages above)"
}

# build_tree NAME [CMAKE ARGS...]: configures and builds $IPCRT_BUILD/NAME.
build_tree() {
  local name=$1
  shift
  # IPCRT_LTO explicitly: a tree configured before it became the default keeps OFF in its cache.
  cmake -S "$IPCRT_ROOT" -B "$IPCRT_BUILD/$name" -G Ninja -DCMAKE_BUILD_TYPE=Release -DIPCRT_LTO=ON \
    "$@" >/dev/null
  cmake --build "$IPCRT_BUILD/$name" -j "$IPCRT_JOBS"
}
