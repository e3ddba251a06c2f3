#!/usr/bin/env bash
# Optional native backend: builds @tensorflow/tfjs-node against the TensorFlow C library shipped inside the
# tensorflow-cpu wheel on PyPI (the stock install downloads libtensorflow from a host this machine cannot reach).
# Everything lives under <project>/tools/tfjs-native (gitignored), outside the project's node_modules, so
# `npm ci` / `npm install` neither download nor remove it. Safe to re-run: finished steps are skipped.
#
#   bash scripts/setup-native.sh            # install / repair
#   bash scripts/setup-native.sh --force    # re-extract the library and rebuild the addon (keeps the wheel)
#
# Env: PLASTICITY_TF_WHEEL=/path/to/tensorflow_cpu-<ver>-*.whl uses that wheel instead of downloading it.
# Layout: tools/tfjs-native/{wheel/, libtensorflow/{include,lib}, package.json, node_modules/@tensorflow/tfjs-node}
set -euo pipefail

TFJS_NODE_VERSION=4.22.0
TF_VERSION=2.21.0
WHEEL_GLOB="tensorflow_cpu-${TF_VERSION}-*.whl"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NATIVE="$ROOT/tools/tfjs-native"
PKG="$NATIVE/node_modules/@tensorflow/tfjs-node"
LIBTF="$NATIVE/libtensorflow"
BUILD_LOG="$NATIVE/build.log"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"

START=$SECONDS
log() { printf '[setup-native +%3ds] %s\n' "$((SECONDS - START))" "$*"; }
die() { printf '[setup-native] ERROR: %s\n' "$*" >&2; exit 1; }

FORCE=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument '$arg' (expected --force or --help)" ;;
  esac
done

# ---- 0. preflight -------------------------------------------------------------------------------
log "step 0/6: checking prerequisites"
[[ "$(uname -s)-$(uname -m)" == "Linux-x86_64" ]] || die "only Linux x86_64 is supported (the wheel is manylinux x86_64), got $(uname -s)-$(uname -m)"
for tool in node npm python3 make g++ readelf; do
  command -v "$tool" >/dev/null || die "'$tool' not found on PATH (needed to build the addon; apt-get install build-essential python3 binutils)"
done
python3 -m pip --version >/dev/null 2>&1 || die "'python3 -m pip' does not work (needed to fetch tensorflow-cpu==$TF_VERSION from PyPI)"
NODE_PREFIX="$(node -p 'require("path").resolve(process.execPath, "..", "..")')"
[[ -f "$NODE_PREFIX/include/node/node_api.h" && -f "$NODE_PREFIX/include/node/common.gypi" ]] \
  || die "Node headers not found under $NODE_PREFIX/include/node (node-gyp would try to download them, which fails offline). Install a Node build that ships its headers (e.g. the nodejs package with its include/ folder) and re-run."
for dep in tfjs tfjs-core tfjs-backend-cpu; do
  found="$(node -p "try { require('$ROOT/node_modules/@tensorflow/$dep/package.json').version } catch { '' }")"
  [[ "$found" == "$TFJS_NODE_VERSION" ]] \
    || die "project dependency @tensorflow/$dep@$TFJS_NODE_VERSION not found in $ROOT/node_modules (got '${found:-nothing}'): run 'npm ci' first"
done
mkdir -p "$NATIVE"
if command -v flock >/dev/null; then
  exec 9>"$NATIVE/.lock"
  flock -n 9 || die "another setup-native run holds $NATIVE/.lock"
fi
log "node $(node -v) at $NODE_PREFIX (headers ok), $(python3 --version), $(g++ --version | head -1)"

# ---- 1. wheel -----------------------------------------------------------------------------------
log "step 1/6: tensorflow-cpu==$TF_VERSION wheel"
mkdir -p "$NATIVE/wheel"
if [[ -n "${PLASTICITY_TF_WHEEL:-}" ]]; then
  [[ -f "$PLASTICITY_TF_WHEEL" ]] || die "PLASTICITY_TF_WHEEL=$PLASTICITY_TF_WHEEL: file not found"
  WHEEL="$PLASTICITY_TF_WHEEL"
  log "using PLASTICITY_TF_WHEEL=$WHEEL"
else
  WHEEL="$(ls -1 "$NATIVE"/wheel/$WHEEL_GLOB 2>/dev/null | head -1 || true)"
  if [[ -n "$WHEEL" ]]; then
    log "cached: $WHEEL"
  else
    tmp="$(mktemp -d "$NATIVE/wheel/.download.XXXXXX")"
    log "downloading with pip (about 274 MB) into $NATIVE/wheel"
    # Pinned to a cp311 manylinux wheel so the download does not depend on the local Python version:
    # only the C libraries inside it are used.
    python3 -m pip download --no-deps --only-binary=:all: --implementation cp --python-version 3.11 \
      --platform manylinux_2_27_x86_64 --dest "$tmp" "tensorflow-cpu==$TF_VERSION" \
      || { rm -rf "$tmp"; die "pip download tensorflow-cpu==$TF_VERSION failed (is PyPI reachable?)"; }
    got="$(ls -1 "$tmp"/$WHEEL_GLOB 2>/dev/null | head -1 || true)"
    [[ -n "$got" ]] || { rm -rf "$tmp"; die "pip download produced no $WHEEL_GLOB"; }
    mv "$got" "$NATIVE/wheel/" && rm -rf "$tmp"
    WHEEL="$NATIVE/wheel/$(basename "$got")"
    log "downloaded $WHEEL ($(du -h "$WHEEL" | cut -f1))"
  fi
fi

# ---- 2. tfjs-node package (scripts off: its install script would download libtensorflow) ---------
log "step 2/6: @tensorflow/tfjs-node@$TFJS_NODE_VERSION in $NATIVE/node_modules"
installed="$(node -p "try { require('$PKG/package.json').version } catch { '' }")"
if [[ "$installed" == "$TFJS_NODE_VERSION" && -d "$PKG/binding" ]]; then
  log "already installed"
else
  cat >"$NATIVE/package.json" <<EOF
{
  "name": "plasticity-tfjs-native",
  "private": true,
  "description": "Written by scripts/setup-native.sh; not part of the project's npm install.",
  "dependencies": { "@tensorflow/tfjs-node": "$TFJS_NODE_VERSION" }
}
EOF
  (cd "$NATIVE" && npm install --ignore-scripts --no-package-lock --no-audit --no-fund --loglevel=error) \
    || die "npm install @tensorflow/tfjs-node@$TFJS_NODE_VERSION failed in $NATIVE (is the npm registry reachable?)"
  log "installed $(node -p "require('$PKG/package.json').version")"
fi
# tfjs-node pulls its own copy of @tensorflow/tfjs*. Remove the copies the project already has at the same
# version, so require('@tensorflow/tfjs') inside tfjs-node walks up to the project's node_modules: one tfjs
# instance, and the project's `import '@tensorflow/tfjs'` sees the 'tensorflow' backend.
for dir in "$NATIVE"/node_modules/@tensorflow/*/; do
  name="$(basename "$dir")"
  [[ "$name" == tfjs-node ]] && continue
  mine="$(node -p "require('$dir/package.json').version")"
  theirs="$(node -p "try { require('$ROOT/node_modules/@tensorflow/$name/package.json').version } catch { '' }")"
  if [[ "$mine" == "$theirs" ]]; then
    rm -rf "$dir"
    log "deduplicated @tensorflow/$name@$mine (the project's copy is used)"
  fi
done
shared="$(cd "$ROOT" && node -p "require.resolve('@tensorflow/tfjs', { paths: ['$PKG'] }) === require.resolve('@tensorflow/tfjs')")"
[[ "$shared" == true ]] || die "tfjs-node would load its own @tensorflow/tfjs instead of the project's (check $NATIVE/node_modules/@tensorflow)"

# ---- 3. TF C library + headers from the wheel ----------------------------------------------------
log "step 3/6: TF C library from $(basename "$WHEEL") into $LIBTF"
stamp="$(basename "$WHEEL")"
if [[ $FORCE == 0 && -f "$LIBTF/.complete" && "$(cat "$LIBTF/.complete")" == "$stamp" ]]; then
  log "already extracted"
else
  rm -rf "$LIBTF" "$LIBTF.tmp"
  # Extracts the two shared libraries and only the headers the binding needs (the #include closure of
  # binding/*.{cc,h} inside the wheel's include tree: a dozen files instead of 13,000).
  python3 - "$WHEEL" "$LIBTF.tmp" "$PKG/binding" <<'PY' || { rm -rf "$LIBTF.tmp"; die "extracting $WHEEL failed"; }
import glob, os, re, shutil, sys, zipfile
wheel, out, binding = sys.argv[1:]
inc_prefix = "tensorflow/include/"
libs = ["libtensorflow_cc.so.2", "libtensorflow_framework.so.2"]
include_re = re.compile(r'#\s*include\s*[<"]([^">]+)[">]')
with zipfile.ZipFile(wheel) as z:
    names = set(z.namelist())
    for lib in libs:
        if "tensorflow/" + lib not in names:
            sys.exit(f"{wheel}: tensorflow/{lib} not found in the wheel")
        os.makedirs(os.path.join(out, "lib"), exist_ok=True)
        with z.open("tensorflow/" + lib) as src, open(os.path.join(out, "lib", lib), "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 22)
    todo = []
    for f in glob.glob(os.path.join(binding, "*")):
        todo += include_re.findall(open(f, encoding="utf-8", errors="replace").read())
    seen = set()
    while todo:
        h = todo.pop()
        if h in seen or inc_prefix + h not in names:
            continue
        seen.add(h)
        data = z.read(inc_prefix + h)
        todo += include_re.findall(data.decode("utf-8", "replace"))
        path = os.path.join(out, "include", h)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as dst:
            dst.write(data)
    for needed in ("tensorflow/c/c_api.h", "tensorflow/c/eager/c_api.h"):
        if needed not in seen:
            sys.exit(f"{wheel}: {inc_prefix}{needed} not found in the wheel")
    print(f"extracted {len(libs)} libraries and {len(seen)} headers")
PY
  ln -s libtensorflow_cc.so.2 "$LIBTF.tmp/lib/libtensorflow.so"
  ln -s libtensorflow_framework.so.2 "$LIBTF.tmp/lib/libtensorflow_framework.so"
  exported="$(readelf --dyn-syms -W "$LIBTF.tmp/lib/libtensorflow_cc.so.2" | grep -cE ' (TF_Version|TFE_NewContext|TFE_Execute)(@|$)' || true)"
  [[ "$exported" -ge 3 ]] || { rm -rf "$LIBTF.tmp"; die "libtensorflow_cc.so.2 in $WHEEL does not export the eager C API (TFE_NewContext)"; }
  echo "$stamp" >"$LIBTF.tmp/.complete"
  mv "$LIBTF.tmp" "$LIBTF"
  log "extracted ($(du -sh "$LIBTF" | cut -f1))"
fi

# ---- 4. point the package's deps/ at the extracted library (relative links: the project may move) --
log "step 4/6: linking $PKG/deps -> $LIBTF"
mkdir -p "$PKG/deps"
ln -sfn ../../../../libtensorflow/include "$PKG/deps/include"
ln -sfn ../../../../libtensorflow/lib "$PKG/deps/lib"
[[ -f "$PKG/deps/include/tensorflow/c/c_api.h" && -e "$PKG/deps/lib/libtensorflow.so" ]] || die "deps/ links in $PKG do not resolve"

# ---- 5. build the addon with node-gyp, offline (headers from the local Node prefix) ----------------
log "step 5/6: building the addon (log: $BUILD_LOG)"
binding_node() { ls -1 "$PKG"/lib/napi-v*/tfjs_binding.node 2>/dev/null | head -1 || true; }
built="$(binding_node)"
if [[ $FORCE == 0 && -n "$built" && -f "$PKG/lib/.built-against" && "$(cat "$PKG/lib/.built-against")" == "$stamp" ]] \
   && [[ "$(ldd "$built")" != *"not found"* ]]; then
  log "already built: ${built#"$NATIVE/"}"
else
  rm -rf "$PKG/build" "$PKG/lib"
  npm_gyp="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
  [[ -f "$npm_gyp" ]] && export npm_config_node_gyp="$npm_gyp"
  if ! (cd "$PKG" && npm_config_nodedir="$NODE_PREFIX" ../../.bin/node-pre-gyp install --build-from-source) >"$BUILD_LOG" 2>&1; then
    tail -25 "$BUILD_LOG" >&2
    die "building tfjs_binding.node failed; full log in $BUILD_LOG"
  fi
  built="$(binding_node)"
  [[ -n "$built" ]] || die "node-pre-gyp reported success but no lib/napi-v*/tfjs_binding.node exists (see $BUILD_LOG)"
  if ldd "$built" | grep 'not found' >&2; then die "$built has unresolved shared libraries"; fi
  echo "$stamp" >"$PKG/lib/.built-against"
  log "built ${built#"$NATIVE/"} ($(grep -ci 'warning' "$BUILD_LOG" || true) warning lines)"
fi

# ---- 6. verify: backend, TF version, matmul and a gradient through the project's @tensorflow/tfjs ---
log "step 6/6: verifying"
(cd "$ROOT" && node - "$PKG" "$TF_VERSION" <<'JS') || die "verification failed (the addon builds but does not run; see the error above)"
const [pkg, tfVersion] = process.argv.slice(2);
const tfn = require(pkg);
const tf = require('@tensorflow/tfjs'); // the project's copy: must see the same backend
const check = (ok, what) => { if (!ok) throw new Error(`check failed: ${what}`); };
check(tfn.getBackend() === 'tensorflow', `tfjs-node backend is 'tensorflow' (got '${tfn.getBackend()}')`);
check(tf.getBackend() === 'tensorflow', `the project's @tensorflow/tfjs backend is 'tensorflow' (got '${tf.getBackend()}')`);
const libVersion = tf.backend().binding.TF_Version;
check(libVersion === tfVersion, `TF C library version ${tfVersion} (got ${libVersion})`);
const m = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5, 6], [7, 8]])).arraySync();
check(JSON.stringify(m) === '[[19,22],[43,50]]', `matmul [[1,2],[3,4]]x[[5,6],[7,8]] = [[19,22],[43,50]] (got ${JSON.stringify(m)})`);
const g = tf.grad((x) => tf.sum(tf.mul(x, x)))(tf.tensor1d([1, -2, 3])).arraySync();
check(JSON.stringify(g) === '[2,-4,6]', `grad of sum(x^2) at [1,-2,3] = [2,-4,6] (got ${JSON.stringify(g)})`);
const w = tf.variable(tf.tensor2d([[1, 2], [3, 4]]));
const { value, grads } = tf.variableGrads(() => tf.sum(tf.matMul(w, w)), [w]);
const dw = grads[w.name].arraySync(); // d/dW sum(W·W) = 1·Wᵀ + Wᵀ·1 = [[7,11],[9,13]]
check(value.arraySync() === 54 && JSON.stringify(dw) === '[[7,11],[9,13]]', `variableGrads of sum(W·W) (got ${value.arraySync()}, ${JSON.stringify(dw)})`);
console.log(`ok: backend ${tf.getBackend()}, tfjs-node ${tfn.version['tfjs-node']}, TF C library ${libVersion}, tfjs-core ${tf.version_core}`);
JS
log "done in $((SECONDS - START)) s. Load with require('$PKG') (model/native-path.ts resolveTfjsNode()); set TF_CPP_MIN_LOG_LEVEL=2 to quiet TF."
log "note: disk use $(du -sh "$NATIVE" | cut -f1) under $NATIVE; 'rm -rf $NATIVE' undoes everything."
