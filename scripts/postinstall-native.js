#!/usr/bin/env node
// Root `postinstall` of `npm install` / `npm ci`: builds the native tfjs backend (scripts/setup-native.sh) where the
// machine allows it. Never fails the install: on any problem it prints ONE line saying why and how to retry, and the
// backend ladder falls back to wasm. Opt out with PLASTICITY_SKIP_NATIVE=1. A second install finds the build and
// returns in well under a second.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const pkg = path.join(root, 'tools', 'tfjs-native', 'node_modules', '@tensorflow', 'tfjs-node');
const say = (line) => process.stdout.write(`[plasticity] ${line}\n`);
const fallback = (why) => say(`native backend not built (${why}); using wasm. Retry with \`npm run setup:native\``);

function built() {
  try {
    const lib = path.join(pkg, 'lib');
    const stamp = fs.readFileSync(path.join(lib, '.built-against'), 'utf8').trim();
    const extracted = fs.readFileSync(path.join(root, 'tools', 'tfjs-native', 'libtensorflow', '.complete'), 'utf8').trim();
    const addon = fs.readdirSync(lib).some((d) => d.startsWith('napi-v') && fs.existsSync(path.join(lib, d, 'tfjs_binding.node')));
    return addon && stamp === extracted;
  } catch {
    return false;
  }
}

/** The reason in setup-native.sh's `ERROR:` line, shortened to what a user acts on. */
function reason(errorLine) {
  const m = errorLine.replace(/^.*ERROR:\s*/, '');
  if (/python3 -m pip|'python3' not found/.test(m)) return 'no pip: python3 -m pip is needed to fetch tensorflow-cpu from PyPI';
  if (/'(make|g\+\+|readelf)' not found/.test(m)) return `no compiler: ${m.match(/'[^']+'/)[0]} not found (apt-get install build-essential binutils)`;
  if (/only Linux x86_64/.test(m)) return m;
  if (/pip download|PyPI/.test(m)) return 'download of tensorflow-cpu from PyPI failed';
  if (/npm install @tensorflow\/tfjs-node/.test(m)) return 'download of @tensorflow/tfjs-node from npm failed';
  return m.length > 160 ? `${m.slice(0, 157)}...` : m;
}

function main() {
  if (/^(1|true|yes)$/i.test(process.env.PLASTICITY_SKIP_NATIVE ?? '')) return fallback('PLASTICITY_SKIP_NATIVE is set');
  if (process.platform !== 'linux' || process.arch !== 'x64') return fallback(`unsupported platform ${process.platform}-${process.arch}; the TensorFlow wheel used is Linux x86_64`);
  if (built()) return say('native backend (tensorflow) already built in tools/tfjs-native');
  say('building the native backend (tfjs-node against the tensorflow-cpu wheel from PyPI, ~274 MB download, a few minutes; PLASTICITY_SKIP_NATIVE=1 skips)');
  const child = spawn('bash', [path.join(__dirname, 'setup-native.sh')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let errorLine = '';
  let tail = '';
  const forward = (chunk) => {
    for (const line of chunk.toString().split('\n')) {
      if (!line) continue;
      if (line.startsWith('[setup-native')) process.stdout.write(`  ${line}\n`); // progress lines
      if (/ERROR:/.test(line)) errorLine = line;
      tail = line;
    }
  };
  child.stdout.on('data', forward);
  child.stderr.on('data', forward);
  child.on('error', (e) => fallback(e.code === 'ENOENT' ? 'bash not found' : e.message));
  child.on('close', (code) => {
    if (code === 0) say('native backend ready: `backend: auto` uses tensorflow');
    else fallback(reason(errorLine || tail || `setup-native.sh exited with ${code}`));
  });
}

try {
  main();
} catch (e) {
  fallback(e && e.message ? e.message : String(e));
}
