#!/usr/bin/env bash
# Makes a fresh Debian host ready for the real-engine tests, idempotently and fast when already up:
#   scripts/services.sh up      install Debian's engines, start them, build and import the test image
#   scripts/services.sh down    stop only what `up` started
#   scripts/services.sh status  print what is running
# Needs root. Everything it writes lives under /var/lib/cadre-test and /run/cadre-test; see
# docs/test-services.md.
set -euo pipefail

state=/var/lib/cadre-test
run=/run/cadre-test
containerd_sock="$run/containerd.sock"
shim_bin="$state/shim-bin"
image_ref="cadre-test/busybox:1"
# Bumped when the image's recipe changes, so that an image built by an older one is rebuilt (2: the
# root directory is 0755; mktemp made it 0700, which a non-root user of rootless Podman cannot
# enter, and Podman's rootful storage turns into 0555).
image_recipe=2
image_tar="$state/busybox.tar"
docs_image="docker.io/library/busybox:latest"
namespace=cadre
# cadre-agent is built for x86_64 and aarch64 (packages/sandbox-agent/scripts/build-agent.sh): musl
# for this host's architecture (musl-tools) and, through Debian's multiarch, musl-dev for the other
# one, which brings Debian's cross gcc; qemu-user-static runs the other one's binary in its tests.
case "$(dpkg --print-architecture 2>/dev/null || true)" in
  amd64) foreign_arch=arm64 ;;
  arm64) foreign_arch=amd64 ;;
  *) foreign_arch="" ;;
esac
# Podman (its Docker-compatible API, rootful and rootless: podman, crun, conmon, catatonit for its
# rootless pause process, uidmap, slirp4netns, fuse-overlayfs), crun for Docker too, and
# openssh-server and openssl for the remote-Docker tests, which start their own sshd and dockerd.
packages=(docker.io containerd runc runsc crun busybox-static tini iptables musl-tools qemu-user-static
  podman conmon catatonit uidmap slirp4netns fuse-overlayfs containernetworking-plugins
  openssh-server openssl ${foreign_arch:+"musl-dev:$foreign_arch"})
# Podman's Docker-compatible API, as root and as an unprivileged user with subuids (rootless).
podman_sock="$run/podman/podman.sock"
rootless_user=cadre-podman
rootless_dir="$run/podman-rootless"
rootless_sock="$rootless_dir/podman.sock"
# The runtimes the Docker tests need on the main daemon, besides runc.
docker_runtimes=(runsc crun)

log() { echo "services: $*" >&2; }

need_root() {
  if [ "$(id -u)" != 0 ]; then
    log "must run as root (it installs packages and starts daemons)"
    exit 1
  fi
}

install_packages() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ -n "$foreign_arch" ] && ! dpkg --print-foreign-architectures | grep -qx "$foreign_arch"; then
    log "adding Debian architecture $foreign_arch (for musl-dev:$foreign_arch)"
    dpkg --add-architecture "$foreign_arch"
  fi
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

wait_for() { # description, command...
  local what=$1; shift
  for _ in $(seq 1 120); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  log "timed out waiting for $what"
  return 1
}

# The stand-in for Kata's shim: runc's shim under Kata's name, on a PATH only our private containerd
# sees. It gives no VM. It exists so CI can drive the Kata provider's containerd path end to end.
install_shims() {
  mkdir -p "$shim_bin"
  install -m 0755 /usr/bin/containerd-shim-runc-v2 "$shim_bin/containerd-shim-kata-v2"
  # gVisor through containerd: runc's shim with BinaryName pointing here (ptrace platform, no netstack).
  cat >"$shim_bin/runsc-cadre" <<'EOF'
#!/bin/sh
exec /usr/bin/runsc --platform=ptrace --network=none "$@"
EOF
  chmod 0755 "$shim_bin/runsc-cadre"
}

start_containerd() {
  if [ -S "$containerd_sock" ] && ctr --address "$containerd_sock" version >/dev/null 2>&1; then return 0; fi
  mkdir -p "$run" "$state/containerd"
  cat >"$state/containerd.toml" <<EOF
version = 2
root = "$state/containerd"
state = "$run/containerd"
[grpc]
  address = "$containerd_sock"
[ttrpc]
  address = "$run/containerd.sock.ttrpc"
[debug]
  address = "$run/containerd-debug.sock"
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  disable_apparmor = true
EOF
  log "starting containerd on $containerd_sock"
  PATH="$shim_bin:$PATH" nohup containerd --config "$state/containerd.toml" >"$state/containerd.log" 2>&1 &
  echo $! >"$run/containerd.pid"
  wait_for containerd ctr --address "$containerd_sock" version
}

# A cgroup v1 host whose cgroup2 hierarchy (/sys/fs/cgroup/unified) holds controllers is "hybrid",
# which crun (and so Podman) refuses ("cgroups in hybrid mode not supported"). Each such controller
# (hugetlb here) is mounted as a v1 hierarchy of its own, which takes it out of cgroup2; runc and
# Docker then use it as they use the other v1 controllers.
fix_hybrid_cgroups() {
  local unified=/sys/fs/cgroup/unified
  [ -f "$unified/cgroup.controllers" ] || return 0
  for controller in $(cat "$unified/cgroup.controllers"); do
    log "mounting the cgroup v1 controller $controller (crun refuses it under cgroup2 on a v1 host)"
    mkdir -p "/sys/fs/cgroup/$controller"
    mountpoint -q "/sys/fs/cgroup/$controller" ||
      mount -t cgroup -o "$controller" cgroup "/sys/fs/cgroup/$controller"
  done
}

# The runtimes of docker_runtimes the running daemon lacks, one a line.
missing_docker_runtimes() {
  local have
  have=$(docker info --format '{{json .Runtimes}}' 2>/dev/null || true)
  for runtime in "${docker_runtimes[@]}"; do
    grep -q "\"$runtime\"" <<<"$have" || echo "$runtime"
  done
}

start_dockerd() {
  if docker_ready; then
    local missing
    missing=$(missing_docker_runtimes | tr '\n' ' ')
    [ -z "$missing" ] && return 0
    if [ -f "$run/dockerd.pid" ] && kill -0 "$(cat "$run/dockerd.pid")" 2>/dev/null; then
      # Started by this script before those runtimes were added: restart it with them.
      log "restarting the dockerd this script started, which lacks: $missing"
      stop_pidfile "$run/dockerd.pid"
    else
      log "warning: a Docker daemon not started by this script is running without: $missing; their tests will fail. Register them in /etc/docker/daemon.json (see docs/test-services.md)."
      return 0
    fi
  fi
  mkdir -p "$run" "$state"
  cat >"$state/daemon.json" <<'EOF'
{
  "runtimes": {
    "runsc": { "path": "/usr/bin/runsc", "runtimeArgs": ["--platform=ptrace", "--network=none"] },
    "crun": { "path": "/usr/bin/crun" }
  }
}
EOF
  log "starting dockerd with runc, runsc and crun"
  nohup dockerd --config-file "$state/daemon.json" --pidfile "$run/dockerd.pid" >"$state/dockerd.log" 2>&1 &
  wait_for dockerd docker_ready
}

engine_ready() { docker -H "unix://$1" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# Podman as root, its Docker-compatible API on a socket of its own (Podman's default storage).
start_podman() {
  engine_ready "$podman_sock" && return 0
  mkdir -p "$(dirname "$podman_sock")"
  log "starting podman system service (rootful) on $podman_sock"
  nohup podman system service --time=0 "unix://$podman_sock" >"$state/podman.log" 2>&1 &
  echo $! >"$run/podman.pid"
  wait_for "podman (rootful)" engine_ready "$podman_sock"
}

# The rootless test user: a login of its own with a range of subordinate uids and gids, which its
# user namespace maps (the agent's uid 65533 among them).
setup_rootless_user() {
  id "$rootless_user" >/dev/null 2>&1 || useradd --create-home --shell /usr/sbin/nologin "$rootless_user"
  grep -q "^$rootless_user:" /etc/subuid || usermod --add-subuids 300000-365535 "$rootless_user"
  grep -q "^$rootless_user:" /etc/subgid || usermod --add-subgids 300000-365535 "$rootless_user"
}

# The command prefix that runs a command as the rootless test user, with a clean environment of
# its own (setpriv and env exec, so a process started after it keeps its pid), in `rootless`.
rootless_prefix() {
  local home
  home=$(getent passwd "$rootless_user" | cut -d: -f6)
  rootless=(setpriv --reuid="$rootless_user" --regid="$rootless_user" --init-groups
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$home" USER="$rootless_user"
    XDG_RUNTIME_DIR="$rootless_dir")
}

as_rootless() {
  rootless_prefix
  "${rootless[@]}" "$@"
}

# Podman rootless: the service runs as the test user, its socket in that user's runtime directory,
# which root (the tests) reaches.
start_podman_rootless() {
  setup_rootless_user
  engine_ready "$rootless_sock" && return 0
  install -d -o "$rootless_user" -g "$rootless_user" -m 0700 "$rootless_dir"
  log "starting podman system service (rootless, as $rootless_user) on $rootless_sock"
  rootless_prefix
  nohup "${rootless[@]}" podman system service --time=0 "unix://$rootless_sock" >"$state/podman-rootless.log" 2>&1 &
  echo $! >"$run/podman-rootless.pid"
  wait_for "podman (rootless)" engine_ready "$rootless_sock"
}

docker_ready() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# The test image: busybox-static as the whole root filesystem, built without any registry.
image_label='{{index .Config.Labels "cadre.test/image-recipe"}}'

build_image() {
  local rebuilt=0
  if [ "$(docker image inspect --format "$image_label" "$image_ref" 2>/dev/null)" != "$image_recipe" ]; then
    log "building $image_ref from busybox-static"
    local root
    root=$(mktemp -d)
    mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/root" "$root/home/user"
    cp /usr/bin/busybox "$root/bin/busybox"
    for applet in $("$root/bin/busybox" --list); do
      [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
    printf 'root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n' >"$root/etc/group"
    chmod 0755 "$root"
    chmod 1777 "$root/tmp"
    chown 1000:1000 "$root/home/user"
    tar -C "$root" -cf "$root.tar" .
    docker import --change 'ENV PATH=/bin' --change 'CMD ["sh"]' \
      --change "LABEL cadre.test/image-recipe=$image_recipe" "$root.tar" "$image_ref" >/dev/null
    rm -rf "$root" "$root.tar"
    rm -f "$image_tar"
    rebuilt=1
  fi
  [ -f "$image_tar" ] || docker save -o "$image_tar" "$image_ref"
  if [ "$rebuilt" = 1 ] || ! ctr --address "$containerd_sock" -n "$namespace" images ls -q | grep -q "cadre-test/busybox:1"; then
    log "importing $image_ref into containerd namespace $namespace"
    ctr --address "$containerd_sock" -n "$namespace" images import "$image_tar" >/dev/null
  fi
  # Podman's own stores, rootful and rootless (it names the image localhost/cadre-test/busybox:1,
  # which the short name finds).
  if [ "$(podman image inspect --format "$image_label" "$image_ref" 2>/dev/null)" != "$image_recipe" ]; then
    log "loading $image_ref into Podman (rootful)"
    podman load -q -i "$image_tar" >/dev/null
  fi
  if [ "$(as_rootless podman image inspect --format "$image_label" "$image_ref" 2>/dev/null)" != "$image_recipe" ]; then
    log "loading $image_ref into Podman (rootless)"
    as_rootless podman load -q <"$image_tar" >/dev/null
  fi
  # docs/providers/kata.md's example names the image an operator would pull; here it is the
  # test image under that name (there is no registry).
  if [ "$rebuilt" = 1 ] || ! ctr --address "$containerd_sock" -n "$namespace" images ls -q | grep -qx "$docs_image"; then
    ctr --address "$containerd_sock" -n "$namespace" images tag --force "docker.io/$image_ref" "$docs_image" >/dev/null
  fi
}

up() {
  need_root
  install_packages
  install_shims
  fix_hybrid_cgroups
  start_containerd
  start_dockerd
  start_podman
  start_podman_rootless
  build_image
  log "ready: docker ($(docker version --format '{{.Server.Version}}')), containerd on $containerd_sock, podman on $podman_sock and (rootless) $rootless_sock, image $image_ref"
}

stop_pidfile() {
  local file=$1
  [ -f "$file" ] || return 0
  local pid
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  fi
  rm -f "$file"
}

down() {
  need_root
  stop_pidfile "$run/podman-rootless.pid"
  stop_pidfile "$run/podman.pid"
  stop_pidfile "$run/dockerd.pid"
  stop_pidfile "$run/containerd.pid"
  log "stopped what services.sh started"
}

status() {
  docker_ready && echo "dockerd: up" || echo "dockerd: down"
  ctr --address "$containerd_sock" version >/dev/null 2>&1 && echo "containerd: up ($containerd_sock)" || echo "containerd: down"
  engine_ready "$podman_sock" && echo "podman: up ($podman_sock)" || echo "podman: down"
  engine_ready "$rootless_sock" && echo "podman rootless: up ($rootless_sock)" || echo "podman rootless: down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
