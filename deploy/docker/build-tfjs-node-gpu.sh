#!/usr/bin/env bash
# GPU backend without the stock download: builds @tensorflow/tfjs-node-gpu 4.22's addon against the TensorFlow C
# library inside the `tensorflow` wheel on PyPI (TF 2.21: CUDA 12.5, cuDNN 9; kernels for sm_60/70/80/89 plus
# compute_90 PTX, so Hopper and newer JIT-compile at first use) and unpacks the CUDA 12 / cuDNN 9 libraries of its
# `and-cuda` extra (the nvidia-*-cu12 wheels) next to it. The stock package instead downloads libtensorflow-gpu
# 2.9.1 from storage.googleapis.com and needs CUDA 11.2 + cuDNN 8.1 on the host. The same recipe as
# scripts/setup-native.sh uses for the CPU library.
#
#   bash deploy/docker/build-tfjs-node-gpu.sh [options]     # build (in the image: as root, with --ldconfig)
#   bash deploy/docker/build-tfjs-node-gpu.sh --check-gpu   # on a GPU host: fail unless TensorFlow sees a GPU
#
# Options:
#   --project DIR      project whose node_modules gets @tensorflow/tfjs-node-gpu (default: this repository)
#   --prefix DIR       where the TF and CUDA libraries go (default /opt/tensorflow-gpu)
#   --wheel-dir DIR    wheel cache; wheels already there are not downloaded again (default PREFIX/wheels)
#   --no-cuda-wheels   only the TF library (no CUDA libraries: it then runs on the CPU; for build checks)
#   --ldconfig         register the CUDA library folders with ldconfig (needs root)
#   --keep-wheels      keep the downloaded wheels (default: deleted after unpacking)
#   --check-gpu        only run the GPU check (no build)
# Layout: PREFIX/{tensorflow/libtensorflow_{cc,framework}.so.2, include/, nvidia/<lib>/lib}; the package's deps/
# links point there (deps/nvidia too, so the libraries' $ORIGIN/../nvidia/*/lib run paths resolve).
set -euo pipefail

TFJS_VERSION=4.22.0
TF_VERSION=2.21.0

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PROJECT="$ROOT"
PREFIX=/opt/tensorflow-gpu
WHEELS=""
CUDA_WHEELS=1
LDCONFIG=0
KEEP_WHEELS=0
CHECK_ONLY=0

START=$SECONDS
log() { printf '[tfjs-node-gpu +%3ds] %s\n' "$((SECONDS - START))" "$*"; }
die() { printf '[tfjs-node-gpu] ERROR: %s\n' "$*" >&2; exit 1; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --project) PROJECT="$(cd "${2:?--project needs a folder}" && pwd)"; shift 2 ;;
    --prefix) PREFIX="${2:?--prefix needs a folder}"; shift 2 ;;
    --wheel-dir) WHEELS="${2:?--wheel-dir needs a folder}"; shift 2 ;;
    --no-cuda-wheels) CUDA_WHEELS=0; shift ;;
    --ldconfig) LDCONFIG=1; shift ;;
    --keep-wheels) KEEP_WHEELS=1; shift ;;
    --check-gpu) CHECK_ONLY=1; shift ;;
    -h|--help) sed -n '2,23p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
WHEELS="${WHEELS:-$PREFIX/wheels}"
PKG="$PROJECT/node_modules/@tensorflow/tfjs-node-gpu"

# Loads the addon through the project's @tensorflow/tfjs and checks version, matmul and a gradient. With
# REQUIRE_GPU=1 it also needs TensorFlow's "Created device ...GPU:0" log line (printed at INFO level).
verify() {
  local require_gpu="$1" out
  out="$(cd "$PROJECT" && TF_CPP_MIN_LOG_LEVEL=0 node - "$PKG" "$TF_VERSION" 2>&1 <<'JS'
const [pkg, tfVersion] = process.argv.slice(2);
const tfn = require(pkg);
const tf = require('@tensorflow/tfjs');
const check = (ok, what) => { if (!ok) throw new Error(`check failed: ${what}`); };
check(tf.getBackend() === 'tensorflow', `the project's @tensorflow/tfjs uses the 'tensorflow' backend (got '${tf.getBackend()}')`);
check(tf.backend().binding.TF_Version === tfVersion, `TF C library ${tfVersion} (got ${tf.backend().binding.TF_Version})`);
const m = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5, 6], [7, 8]])).arraySync();
check(JSON.stringify(m) === '[[19,22],[43,50]]', `matmul (got ${JSON.stringify(m)})`);
const g = tf.grad((x) => tf.sum(tf.mul(x, x)))(tf.tensor1d([1, -2, 3])).arraySync();
check(JSON.stringify(g) === '[2,-4,6]', `gradient of sum(x^2) (got ${JSON.stringify(g)})`);
console.log(`VERIFIED backend=${tf.getBackend()} tfjs-node-gpu=${tfn.version['tfjs-node']} tf=${tf.backend().binding.TF_Version}`);
JS
)" || { printf '%s\n' "$out" | tail -30 >&2; die "the addon does not run (output above)"; }
  local gpu_line
  gpu_line="$(printf '%s\n' "$out" | grep -m1 -E 'Created device .*device:GPU:0' || true)"
  log "$(printf '%s\n' "$out" | grep -m1 '^VERIFIED')"
  if [[ -n "$gpu_line" ]]; then
    log "GPU: ${gpu_line#*Created device }"
  elif [[ "$require_gpu" == 1 ]]; then
    printf '%s\n' "$out" | grep -iE 'cuda|gpu|cudnn|driver' | tail -20 >&2 || true
    die "TensorFlow found no GPU (no 'Created device ...GPU:0'); check the driver (nvidia-smi), NVIDIA_VISIBLE_DEVICES and the CUDA libraries under $PREFIX/nvidia"
  else
    log "no GPU visible here: the library runs on the CPU (expected on a build machine)"
  fi
}

if [[ $CHECK_ONLY == 1 ]]; then
  [[ -d "$PKG/lib" ]] || die "$PKG has no built addon; run this script without --check-gpu first"
  verify 1
  exit 0
fi

# ---- 0. preflight ----------------------------------------------------------------------------------------------
log "step 0/6: prerequisites"
[[ "$(uname -s)-$(uname -m)" == "Linux-x86_64" ]] || die "only Linux x86_64 is supported (manylinux x86_64 wheels), got $(uname -s)-$(uname -m)"
for tool in node npm python3 make g++ readelf; do
  command -v "$tool" >/dev/null || die "'$tool' not found on PATH (apt-get install build-essential python3 python3-pip binutils)"
done
python3 -m pip --version >/dev/null 2>&1 || die "'python3 -m pip' does not work (needed to download the wheels)"
NODE_PREFIX="$(node -p 'require("path").resolve(process.execPath, "..", "..")')"
[[ -f "$NODE_PREFIX/include/node/node_api.h" ]] || die "Node headers not found under $NODE_PREFIX/include/node (node-gyp would download them)"
found="$(cd "$PROJECT" && node -p "try { require('@tensorflow/tfjs/package.json').version } catch { '' }")"
[[ "$found" == "$TFJS_VERSION" ]] || die "@tensorflow/tfjs@$TFJS_VERSION not installed in $PROJECT (got '${found:-nothing}'): run npm ci first"
mkdir -p "$PREFIX" "$WHEELS"

# ---- 1. wheels: tensorflow, and the CUDA libraries its and-cuda extra names -----------------------------------
log "step 1/6: wheels into $WHEELS"
# Wheels for CPython 3.11 on any manylinux up to glibc 2.34 (the image's Debian 12 has 2.36); pip does not widen a
# single --platform to older manylinux tags, and the nvidia-* wheels use several.
PLATFORMS=(--platform manylinux2014_x86_64)
for minor in $(seq 17 34); do PLATFORMS+=(--platform "manylinux_2_${minor}_x86_64"); done
pip_download() {
  python3 -m pip download --quiet --no-deps --only-binary=:all: --implementation cp --python-version 3.11 \
    "${PLATFORMS[@]}" --dest "$WHEELS" "$@"
}
shopt -s nullglob
first() { [[ $# -gt 0 ]] && printf '%s' "$1"; return 0; }
TF_WHEEL="$(first "$WHEELS"/tensorflow-"$TF_VERSION"-*.whl)"
if [[ -z "$TF_WHEEL" ]]; then
  pip_download "tensorflow==$TF_VERSION" || die "pip download tensorflow==$TF_VERSION failed (is PyPI reachable?)"
  TF_WHEEL="$(first "$WHEELS"/tensorflow-"$TF_VERSION"-*.whl)"
  [[ -n "$TF_WHEEL" ]] || die "pip download produced no tensorflow-$TF_VERSION-*.whl in $WHEELS"
fi
log "tensorflow wheel: $(basename "$TF_WHEEL") ($(du -h "$TF_WHEEL" | cut -f1))"
mapfile -t CUDA_REQS < <(python3 - "$TF_WHEEL" <<'PY'
import re, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
meta = next(n for n in z.namelist() if n.endswith('.dist-info/METADATA'))
for line in z.read(meta).decode().splitlines():
    m = re.match(r'Requires-Dist: ([^;]+);\s*extra == "and-cuda"', line)
    if m:
        print(m.group(1).replace(' ', ''))
PY
)
if [[ $CUDA_WHEELS == 1 ]]; then
  [[ ${#CUDA_REQS[@]} -gt 0 ]] || die "$(basename "$TF_WHEEL") names no and-cuda requirements"
  log "CUDA requirements: ${CUDA_REQS[*]}"
  # One call so pip picks mutually consistent versions (and reuses wheels already in the cache folder).
  pip_download --find-links "$WHEELS" "${CUDA_REQS[@]}" || die "pip download of the CUDA wheels failed"
fi

# ---- 2. unpack: TF libraries + the headers the binding includes; CUDA libraries (no headers) -------------------
log "step 2/6: unpacking into $PREFIX"
stamp="$(basename "$TF_WHEEL") cuda=$CUDA_WHEELS"
if [[ -f "$PREFIX/.complete" && "$(cat "$PREFIX/.complete")" == "$stamp" ]]; then
  log "already unpacked"
else
  # The binding sources come from the package tarball; install it first (scripts off: no download).
  (cd "$PROJECT" && npm install --no-save --ignore-scripts --omit=dev --no-audit --no-fund --loglevel=error "@tensorflow/tfjs-node-gpu@$TFJS_VERSION") \
    || die "npm install @tensorflow/tfjs-node-gpu@$TFJS_VERSION failed in $PROJECT"
  rm -rf "$PREFIX/tensorflow" "$PREFIX/include" "$PREFIX/nvidia"
  python3 - "$TF_WHEEL" "$PREFIX" "$PKG/binding" "$CUDA_WHEELS" "$WHEELS" <<'PY' || die "unpacking the wheels failed"
import glob, os, re, shutil, sys, zipfile
tf_wheel, prefix, binding, cuda, wheel_dir = sys.argv[1:]
inc = "tensorflow/include/"
include_re = re.compile(r'#\s*include\s*[<"]([^">]+)[">]')
def copy(z, name, dest):
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with z.open(name) as src, open(dest, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 22)
with zipfile.ZipFile(tf_wheel) as z:
    names = set(z.namelist())
    for lib in ("libtensorflow_cc.so.2", "libtensorflow_framework.so.2"):
        if "tensorflow/" + lib not in names:
            sys.exit(f"{tf_wheel}: tensorflow/{lib} not found")
        copy(z, "tensorflow/" + lib, os.path.join(prefix, "tensorflow", lib))
    todo = [h for f in glob.glob(os.path.join(binding, "*")) for h in include_re.findall(open(f, errors="replace").read())]
    seen = set()
    while todo:
        h = todo.pop()
        if h in seen or inc + h not in names:
            continue
        seen.add(h)
        data = z.read(inc + h)
        todo += include_re.findall(data.decode("utf-8", "replace"))
        os.makedirs(os.path.dirname(os.path.join(prefix, "include", h)), exist_ok=True)
        open(os.path.join(prefix, "include", h), "wb").write(data)
    for needed in ("tensorflow/c/c_api.h", "tensorflow/c/eager/c_api.h"):
        if needed not in seen:
            sys.exit(f"{tf_wheel}: {inc}{needed} not found")
count = 0
if cuda == "1":
    for wheel in sorted(glob.glob(os.path.join(wheel_dir, "nvidia_*.whl"))):
        with zipfile.ZipFile(wheel) as z:
            for name in z.namelist():
                if name.startswith("nvidia/") and "/include/" not in name and not name.endswith("/"):
                    copy(z, name, os.path.join(prefix, name))
                    count += 1
print(f"unpacked 2 TF libraries, {len(seen)} headers, {count} CUDA files")
PY
  ln -sfn libtensorflow_cc.so.2 "$PREFIX/tensorflow/libtensorflow.so"
  ln -sfn libtensorflow_framework.so.2 "$PREFIX/tensorflow/libtensorflow_framework.so"
  exported="$(readelf --dyn-syms -W "$PREFIX/tensorflow/libtensorflow_cc.so.2" | grep -cE ' (TF_Version|TFE_NewContext|TFE_Execute)(@|$)' || true)"
  [[ "$exported" -ge 3 ]] || die "libtensorflow_cc.so.2 does not export the eager C API"
  echo "$stamp" >"$PREFIX/.complete"
  log "unpacked ($(du -sh "$PREFIX" --exclude=wheels | cut -f1))"
fi
[[ $KEEP_WHEELS == 1 ]] || rm -rf "$WHEELS"

# ---- 3. the package (again, in case step 2 was skipped) and one shared @tensorflow/tfjs ------------------------
log "step 3/6: @tensorflow/tfjs-node-gpu@$TFJS_VERSION in $PROJECT/node_modules"
installed="$(node -p "try { require('$PKG/package.json').version } catch { '' }")"
if [[ "$installed" != "$TFJS_VERSION" ]]; then
  (cd "$PROJECT" && npm install --no-save --ignore-scripts --omit=dev --no-audit --no-fund --loglevel=error "@tensorflow/tfjs-node-gpu@$TFJS_VERSION") \
    || die "npm install @tensorflow/tfjs-node-gpu@$TFJS_VERSION failed in $PROJECT"
fi
shared="$(cd "$PROJECT" && node -p "require.resolve('@tensorflow/tfjs', { paths: ['$PKG'] }) === require.resolve('@tensorflow/tfjs')")"
[[ "$shared" == true ]] || die "tfjs-node-gpu would load its own @tensorflow/tfjs, not the project's (check $PKG/node_modules)"

# ---- 4. deps/ links ---------------------------------------------------------------------------------------------
log "step 4/6: linking $PKG/deps -> $PREFIX"
mkdir -p "$PKG/deps"
ln -sfn "$PREFIX/include" "$PKG/deps/include"
ln -sfn "$PREFIX/tensorflow" "$PKG/deps/lib"
if [[ $CUDA_WHEELS == 1 ]]; then ln -sfn "$PREFIX/nvidia" "$PKG/deps/nvidia"; fi
[[ -f "$PKG/deps/include/tensorflow/c/c_api.h" && -e "$PKG/deps/lib/libtensorflow.so" ]] || die "deps/ links in $PKG do not resolve"

# ---- 5. the addon, offline ----------------------------------------------------------------------------------------
log "step 5/6: building the addon"
rm -rf "${PKG:?}/build" "${PKG:?}/lib"
npm_gyp="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
[[ -f "$npm_gyp" ]] && export npm_config_node_gyp="$npm_gyp"
pregyp="$(cd "$PKG" && node -p "require.resolve('@mapbox/node-pre-gyp/bin/node-pre-gyp')")"
if ! (cd "$PKG" && npm_config_nodedir="$NODE_PREFIX" node "$pregyp" install --build-from-source) >"$PREFIX/build.log" 2>&1; then
  tail -25 "$PREFIX/build.log" >&2
  die "building tfjs_binding.node failed; log in $PREFIX/build.log"
fi
built="$(first "$PKG"/lib/napi-v*/tfjs_binding.node)"
[[ -n "$built" ]] || die "no lib/napi-v*/tfjs_binding.node after the build (see $PREFIX/build.log)"
if ldd "$built" | grep 'not found' >&2; then die "$built has unresolved shared libraries"; fi
log "built ${built#"$PROJECT/"}"

if [[ $LDCONFIG == 1 && $CUDA_WHEELS == 1 ]]; then
  find "$PREFIX/nvidia" -mindepth 2 -maxdepth 2 -type d -name lib | sort >/etc/ld.so.conf.d/tensorflow-cuda.conf
  ldconfig
  log "registered $(wc -l </etc/ld.so.conf.d/tensorflow-cuda.conf) CUDA library folders with ldconfig"
fi

# ---- 6. verify (on the CPU unless a GPU is visible) --------------------------------------------------------------
log "step 6/6: verifying"
verify 0
log "done in $((SECONDS - START)) s"
