// Where the optional native backend (@tensorflow/tfjs-node built by scripts/setup-native.sh) can be required from.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Install location of the project-local build, relative to the project root. */
export const NATIVE_PACKAGE_DIR = path.join('tools', 'tfjs-native', 'node_modules', '@tensorflow', 'tfjs-node');

/** True when the package folder has a compiled addon (an install with scripts skipped has none and would throw on require). */
function hasBuiltAddon(packageDir: string): boolean {
  const libDir = path.join(packageDir, 'lib');
  if (!fs.existsSync(path.join(packageDir, 'package.json')) || !fs.existsSync(libDir)) return false;
  return fs
    .readdirSync(libDir)
    .some((sub) => sub.startsWith('napi-v') && fs.existsSync(path.join(libDir, sub, 'tfjs_binding.node')));
}

/**
 * Returns a path to pass to `require()` for @tensorflow/tfjs-node, or undefined when no built copy exists.
 * Looks first for the project-local build in <ancestor of startDir>/tools/tfjs-native, then for a regular
 * install resolvable from startDir. Loading it is left to the caller (set TF_CPP_MIN_LOG_LEVEL before).
 */
export function resolveTfjsNode(startDir: string = __dirname): string | undefined {
  for (let dir = path.resolve(startDir); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, NATIVE_PACKAGE_DIR);
    if (hasBuiltAddon(candidate)) return candidate;
    if (path.dirname(dir) === dir) break;
  }
  try {
    const installed = path.dirname(require.resolve('@tensorflow/tfjs-node/package.json', { paths: [startDir] }));
    return hasBuiltAddon(installed) ? installed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Environment the native TensorFlow library reads once, when it loads (a worker thread's process.env does not reach
 * it: call this on the main thread before the first load). TF_CPP_MIN_LOG_LEVEL quiets start-up lines.
 * TF_ONEDNN_USE_SYSTEM_ALLOCATOR: oneDNN builds allocate tensors from a BFC pool that never shrinks, so memory one
 * job freed (a trace stage's two models, a train stage's moments) stayed resident for the rest of the process; the
 * system allocator returns it. Same kernels, same numbers. Either can be overridden by setting it beforehand.
 */
export function setNativeEnvDefaults(env: NodeJS.ProcessEnv = process.env): void {
  env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  env.TF_ONEDNN_USE_SYSTEM_ALLOCATOR ??= '1';
}
