// Locates the project root (the nearest folder above this file that holds package.json).
// Works both from the sources and from the compiled copy in dist/.
import * as fs from 'node:fs';
import * as path from 'node:path';

let cached: string | undefined;

export function projectRoot(): string {
  if (cached) return cached;
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return (cached = dir);
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`projectRoot: no package.json found in ${__dirname} or any parent folder`);
    dir = parent;
  }
}
