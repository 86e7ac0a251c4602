#!/usr/bin/env bash
# Build the CPU image from this tree and exercise it: what CI runs after pytest (.ci/run).
#
#   sudo docker/test-image.sh            # root, on Debian/Ubuntu; no Docker engine needed
#
# No Docker engine or registry is needed. buildah builds docker/Dockerfile unchanged except
# its FROM, which is replaced at build time by a stand-in for python:3.11-slim-bookworm:
# Debian bookworm + its CPython 3.11, made with debootstrap from Debian's archive and cached.
# podman (runtime runc) then runs the image the way docker-compose.yml does, and checks:
#   versions    gdl, keras, tensorflow(-cpu) and every other requirement inside the image
#               satisfy pyproject.toml; TensorFlow is the CPU build; the user is GDL_UID
#   train       `gdl train vae --data digits --epochs 1` writes its run to a bind-mounted
#               runs/ folder, as files owned by the image's user
#   lab         Jupyter Lab as compose starts it (token required, 127.0.0.1 only, all
#               capabilities dropped, no-new-privileges): 403 without the token, 200 with
#               it, not reachable on the host's other addresses
#   notebook    chapters/02_deeplearning/01_mlp.ipynb runs in smoke mode on a kernel of
#               that running server (docker/ci_run_notebook.py), no cuInit on stderr
#   tensorboard answers and lists the run from `train`
#   health      docker-compose.yml's healthcheck commands exit 0 in both containers
#   gpu-lock    docker/requirements-gpu.txt is pip's resolution of the GPU image's
#               requirements (pip --dry-run against PyPI; no GPU here to build it on)
# It prints every step's time and the image's size per layer; exit status 1 on any failure,
# and every container it started is removed, also on failure.
#
# Environment (all optional):
#   GDL_CI_CACHE       cache folder (default ~/.cache/gdl-ci): the base tarball and the
#                      image storage, so a rerun reuses the base and unchanged layers.
#                      A cold run is: rm -rf ~/.cache/gdl-ci
#   GDL_CI_DOCKERFILE  Dockerfile to build (default docker/Dockerfile)
#   GDL_CI_PYTHON      host Python with pip >= 23 for the gpu-lock step (default python3)
#   GDL_CI_STEPS       space-separated subset of: build versions train lab notebook
#                      tensorboard health gpu-lock (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${GDL_CI_CACHE:-$HOME/.cache/gdl-ci}
DOCKERFILE=${GDL_CI_DOCKERFILE:-docker/Dockerfile}
PY=${GDL_CI_PYTHON:-python3}
STEPS=" ${GDL_CI_STEPS:-build versions train lab notebook tensorboard health gpu-lock} "
IMAGE=localhost/gdl:ci
GDL_UID=1000 # the Dockerfile's default; the train step checks files come out with it
SUITE=bookworm
SLIM=1 # version of slim() below; part of the cache key
DEBOOTSTRAP_ARGS=(--variant=minbase --include=python3,python3-venv,python-is-python3,ca-certificates "$SUITE")
CA=/etc/ssl/certs/ca-certificates.crt # host CA bundle, mounted read-only for RUN steps only
NAME=gdl-ci-$$
TOTAL_START=$(date +%s)
WORK=$(mktemp -d)

log() { echo "[test-image] $*"; }
fail() {
    echo "[test-image] FAILED: $*" >&2
    exit 1
}
want() { [[ $STEPS == *" $1 "* ]]; }
STEP=""
timed() { # timed NAME COMMAND...: run, print its wall time (set -e stops the script on error)
    local start
    STEP=$1
    shift
    start=$(date +%s)
    log "step $STEP ..."
    "$@"
    log "step $STEP: $(($(date +%s) - start)) s"
    STEP=""
}

cleanup() {
    local rc=$?
    for c in "$NAME-lab" "$NAME-tb"; do
        if podman container exists "$c" 2>/dev/null; then
            [ "$rc" = 0 ] || podman logs --tail 40 "$c" >&2 2>&1 || true
            podman rm -f -t 2 "$c" >/dev/null 2>&1 || true
        fi
    done
    rm -rf "$WORK"
    [ -z "$STEP" ] || echo "[test-image] FAILED in step $STEP" >&2
    log "total: $(($(date +%s) - TOTAL_START)) s (exit $rc)"
}
trap cleanup EXIT
trap "exit 130" INT TERM # so the cleanup runs on Ctrl-C and kill too

# ----------------------------------------------------------------------------- tools
install_tools() {
    local missing=()
    for tool in buildah podman runc debootstrap; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    [ ${#missing[@]} = 0 ] && return 0
    [ "$(id -u)" = 0 ] || fail "needs root to install ${missing[*]} (apt-get)"
    log "installing ${missing[*]} from the distribution"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends buildah podman runc debootstrap fuse-overlayfs >/dev/null
}

configure() {
    # Storage and engine config live in the cache, so nothing outside it is touched.
    # runc: crun refuses some hosts' cgroup layouts; explicit ulimits: runc cannot raise
    # the container's limits above what an unprivileged parent allows.
    mkdir -p "$CACHE/storage"
    cat >"$CACHE/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$CACHE/storage"
runroot = "/run/gdl-ci-storage"
EOF
    local nproc
    nproc=$(ulimit -u)
    [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ] && nproc=32768
    cat >"$CACHE/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
[network]
network_backend = "netavark"
EOF
    export CONTAINERS_STORAGE_CONF="$CACHE/storage.conf" CONTAINERS_CONF="$CACHE/containers.conf"
}

# ----------------------------------------------------------------------------- base
slim() {
    # What makes debian:bookworm-slim (and so python:3.11-slim-bookworm) slim, so that the
    # layers built on the stand-in have the sizes they have on the real base: dpkg leaves
    # out docs, man pages and translations, and apt deletes downloaded .debs after installing.
    local root=$1
    mkdir -p "$root/etc/dpkg/dpkg.cfg.d" "$root/etc/apt/apt.conf.d"
    cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
    cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/docker-no-languages"
    # Security updates too, as the real base has them.
    echo "deb http://deb.debian.org/debian-security $SUITE-security main" >>"$root/etc/apt/sources.list"
    rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"* \
        "$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/locale"
    mkdir -p "$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/locale"
}

base_image() {
    # The stand-in base, keyed by the debootstrap arguments: a rerun reuses the tarball.
    local key tarball
    key=$(printf '%s\n' "${DEBOOTSTRAP_ARGS[@]}" "slim=$SLIM" | sha256sum | cut -c1-12)
    BASE=localhost/gdl-ci-base:$SUITE-$key
    tarball=$CACHE/base-$SUITE-$key.tar.gz
    podman image exists "$BASE" && return 0
    if [ ! -s "$tarball" ]; then
        log "debootstrap ${DEBOOTSTRAP_ARGS[*]}"
        debootstrap "${DEBOOTSTRAP_ARGS[@]}" "$WORK/rootfs" http://deb.debian.org/debian \
            >"$WORK/debootstrap.log" 2>&1 || {
            tail -20 "$WORK/debootstrap.log" >&2
            return 1
        }
        slim "$WORK/rootfs"
        tar -C "$WORK/rootfs" -c . | gzip -1 >"$tarball.tmp" && mv "$tarball.tmp" "$tarball"
        rm -rf "$WORK/rootfs"
    fi
    podman import --change 'CMD ["python3"]' "$tarball" "$BASE" >/dev/null
}

build() {
    # --format docker: Docker's image format, which keeps SHELL (OCI drops it).
    # --layers: unchanged steps (apt, the dependency lock) come from the cache on a rerun.
    buildah bud --isolation chroot --network host --pull=never --format docker --layers --force-rm \
        --from "$BASE" -v "$CA:$CA:ro" -f "$DOCKERFILE" -t "$IMAGE" . 2>&1 |
        grep -v -E '^(Collecting|  Downloading|  Using cached|Requirement already)' || return 1
    podman image prune -f >/dev/null # superseded layers of earlier runs
}

report_size() {
    podman history --format '{{.Size}}\t{{.CreatedBy}}' "$IMAGE" |
        awk -F'\t' '$1 != "0B" && $1 != "0 B" {printf "[test-image]   %9s  %.90s\n", $1, $2}'
    log "image $IMAGE: $(podman image inspect --format '{{.Size}}' "$IMAGE" |
        awk '{printf "%.2f GB (%.0f bytes)", $1 / 1e9, $1}')"
}

# ----------------------------------------------------------------------------- checks
in_image() { podman run --rm --network none "$@"; }

check_versions() {
    in_image -i -v "$PWD/pyproject.toml:/tmp/pyproject.toml:ro" "$IMAGE" python - <<'EOF'
import importlib.metadata as md, platform, sys, tomllib
import gdl, keras, tensorflow as tf
from packaging.requirements import Requirement

project = tomllib.load(open("/tmp/pyproject.toml", "rb"))["project"]
reqs = project["dependencies"] + [r for e in ("lab", "kaggle") for r in project["optional-dependencies"][e]]
bad = []
for text in reqs:
    req = Requirement(text)
    names = [req.name] + (["tensorflow-cpu"] if req.name == "tensorflow" else [])
    found = []
    for n in names:
        try:
            found.append((n, md.version(n)))
        except md.PackageNotFoundError:
            pass
    if not any(req.specifier.contains(v, prereleases=True) for _, v in found):
        bad.append(f"{text}: installed {found or 'nothing'}")
assert gdl.__version__ == project["version"], (gdl.__version__, project["version"])
assert not tf.test.is_built_with_cuda(), "the CPU image has a CUDA-enabled TensorFlow"
assert md.version("tensorflow-cpu") == tf.__version__
print(f"python {platform.python_version()}, gdl {gdl.__version__}, keras {keras.__version__}, "
      f"tensorflow-cpu {tf.__version__}, backend {keras.backend.backend()}")
sys.exit("\n".join(["versions that miss pyproject.toml's pins:"] + bad) if bad else 0)
EOF
    local uid
    uid=$(in_image "$IMAGE" id -u)
    [ "$uid" = "$GDL_UID" ] || fail "the image runs as uid $uid, not $GDL_UID"
    log "runs as uid $uid"
}

check_train() {
    mkdir -p "$WORK/runs" && chown "$GDL_UID:$GDL_UID" "$WORK/runs"
    in_image -v "$WORK/runs:/workspace/runs" "$IMAGE" gdl train vae --data digits --epochs 1
    local files others
    files=$(find "$WORK/runs" -type f | wc -l)
    others=$(find "$WORK/runs" ! -uid "$GDL_UID" | wc -l)
    [ -d "$WORK/runs/vae" ] && [ "$files" -gt 0 ] || fail "gdl train wrote no run under runs/vae"
    [ "$others" = 0 ] || fail "$others files in runs/ do not belong to uid $GDL_UID"
    log "runs/vae: $files files, all owned by uid $GDL_UID"
}

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
http_status() { # http_status URL [TOKEN]: the HTTP status, or 000 when nothing answers
    "$PY" - "$@" <<'EOF'
import sys, urllib.error, urllib.request
req = urllib.request.Request(sys.argv[1])
if len(sys.argv) > 2:
    req.add_header("Authorization", f"token {sys.argv[2]}")
try:
    print(urllib.request.urlopen(req, timeout=5).status)
except urllib.error.HTTPError as e:
    print(e.code)
except OSError:
    print("000")
EOF
}
wait_for() { # wait_for URL SECONDS: until it answers anything
    local deadline=$(($(date +%s) + $2))
    while [ "$(http_status "$1")" = 000 ]; do
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 2
    done
}
# What docker-compose.yml sets for both services.
COMPOSE_RUN=(--init --cap-drop ALL --security-opt no-new-privileges)

check_lab() {
    TOKEN=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(24))')
    LAB_PORT=$(free_port)
    mkdir -p "$WORK/data" && chown "$GDL_UID:$GDL_UID" "$WORK/data"
    podman run -d --name "$NAME-lab" "${COMPOSE_RUN[@]}" -p "127.0.0.1:$LAB_PORT:8888" \
        -e JUPYTER_TOKEN="$TOKEN" -e GDL_SMOKE=1 -v "$WORK/data:/workspace/data" \
        -v "$WORK/runs:/workspace/runs" "$IMAGE" >/dev/null
    local url=http://127.0.0.1:$LAB_PORT
    wait_for "$url/api" 120 || fail "Jupyter Lab did not answer on $url within 120 s"
    local without with other
    without=$(http_status "$url/api/contents")
    with=$(http_status "$url/api/contents" "$TOKEN")
    [ "$without" = 403 ] || fail "Jupyter answered $without without the token (want 403)"
    [ "$with" = 200 ] || fail "Jupyter answered $with with the token (want 200)"
    log "lab on 127.0.0.1:$LAB_PORT: 403 without the token, 200 with it"
    for ip in $(hostname -I 2>/dev/null); do
        [[ $ip == 127.* ]] && continue
        other=$(http_status "http://$ip:$LAB_PORT/api")
        [ "$other" = 000 ] || fail "the lab answers on $ip:$LAB_PORT ($other): publish on 127.0.0.1 only"
        log "not reachable on $ip:$LAB_PORT"
    done
}

check_notebook() {
    podman container exists "$NAME-lab" || check_lab
    podman exec "$NAME-lab" python -c \
        "from gdl.data import build_fixtures; build_fixtures('/workspace/data', ['cifar10'])"
    podman exec -i "$NAME-lab" python - http://127.0.0.1:8888 "$TOKEN" \
        02_deeplearning/01_mlp.ipynb <docker/ci_run_notebook.py
}

check_tensorboard() {
    local port url runs
    port=$(free_port)
    url=http://127.0.0.1:$port
    podman run -d --name "$NAME-tb" "${COMPOSE_RUN[@]}" -p "127.0.0.1:$port:6006" \
        -v "$WORK/runs:/workspace/runs:ro" "$IMAGE" \
        tensorboard --logdir=/workspace/runs --host=0.0.0.0 --port=6006 >/dev/null
    wait_for "$url/" 120 || fail "TensorBoard did not answer on $url within 120 s"
    [ "$(http_status "$url/")" = 200 ] || fail "TensorBoard: $(http_status "$url/") on /"
    runs=$("$PY" -c "import json, urllib.request; print(json.load(urllib.request.urlopen('$url/data/runs')))")
    log "tensorboard on 127.0.0.1:$port answers; runs: $runs"
}

check_health() {
    # docker-compose.yml's healthcheck commands (exec form), run in the matching container.
    local service container
    podman run --rm -i --network none "$IMAGE" python -c '
import json, sys, yaml
for name, service in yaml.safe_load(sys.stdin)["services"].items():
    test = service["healthcheck"]["test"]
    assert test[0] == "CMD", f"{name}: exec-form healthcheck expected"
    print(name, json.dumps(test[1:]))' <docker-compose.yml >"$WORK/health"
    while read -r service test; do
        container=$NAME-lab
        [ "$service" = tensorboard ] && container=$NAME-tb
        podman container exists "$container" || fail "no running $service container to check"
        mapfile -t cmd < <("$PY" -c 'import json, sys; print("\n".join(json.loads(sys.argv[1])))' "$test")
        podman exec "$container" "${cmd[@]}" || fail "$service healthcheck failed: ${cmd[*]}"
        log "$service healthcheck: exit 0"
    done <"$WORK/health"
}

check_gpu_lock() {
    "$PY" docker/lock_requirements.py --verify gpu
}

# ----------------------------------------------------------------------------- main
[ -f "$DOCKERFILE" ] || fail "no Dockerfile at $DOCKERFILE"
timed tools install_tools
configure
log "load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; cache $CACHE ($(du -sh "$CACHE" 2>/dev/null | cut -f1))"
if want build; then
    timed base base_image
    timed build build
fi
podman image exists "$IMAGE" || fail "no image $IMAGE (run the build step)"
report_size
if want versions; then timed versions check_versions; fi
if want train; then timed train check_train; fi
if want lab; then timed lab check_lab; fi
if want notebook; then timed notebook check_notebook; fi
if want tensorboard; then timed tensorboard check_tensorboard; fi
if want health; then timed health check_health; fi
if want gpu-lock; then timed gpu-lock check_gpu_lock; fi
log "all checks passed"
