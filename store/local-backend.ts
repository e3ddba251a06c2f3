// Local-folder backend: keys are files under `root`. Writes go to root/.tmp first and are renamed into place,
// so a reader never sees a partial file.
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { checkKey, type StoreBackend, type StoreEntry } from './backend';
import { StoreError, describeCause } from './errors';
import { hashingStream } from './hashing';

const TMP = '.tmp';

export class LocalBackend implements StoreBackend {
  readonly root: string;
  readonly url: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.url = pathToFileURL(this.root).href;
  }

  uriOf(key: string): string {
    return pathToFileURL(this.pathOf(key)).href;
  }

  async check(): Promise<void> {
    try {
      const probe = path.join(await this.spoolDir(), `check-${randomUUID()}`);
      await fs.writeFile(probe, 'ok');
      await fs.unlink(probe);
    } catch (err) {
      throw new StoreError(this.url, `folder is not writable: ${describeCause(err)}`, { cause: err });
    }
  }

  async spoolDir(): Promise<string> {
    const dir = path.join(this.root, TMP);
    await this.wrap('create temp folder', TMP, () => makeDirs(dir));
    return dir;
  }

  async putFile(key: string, file: string): Promise<void> {
    const dest = this.pathOf(key);
    await this.wrap('write', key, async () => {
      await makeDirs(path.dirname(dest));
      await fs.rename(file, dest); // atomic within one filesystem; concurrent same-content writers are harmless
    });
  }

  async putFromFile(key: string, file: string, opts: { link?: boolean } = {}): Promise<{ sha256: string; bytes: number; written: number }> {
    const tmp = path.join(await this.spoolDir(), randomUUID());
    const hashing = hashingStream();
    let written = 0;
    try {
      const linked = opts.link ? await fs.link(file, tmp).then(() => true, () => false) : false;
      if (linked) {
        await pipeline(createReadStream(tmp), hashing.stream, new Writable({ write: (_c, _e, done) => done() })); // hash what landed, read-only
      } else {
        await this.wrap('write', key, () => pipeline(createReadStream(file), hashing.stream, createWriteStream(tmp, { flags: 'wx' })));
        const fh = await fs.open(tmp, 'r+');
        await fh.sync().finally(() => fh.close());
        written = hashing.digest().bytes;
      }
      await this.putFile(key, tmp);
    } finally {
      await fs.rm(tmp, { force: true });
    }
    return { ...hashing.digest(), written };
  }

  async move(from: string, to: string): Promise<void> {
    const dest = this.pathOf(to);
    await this.wrap('move', from, async () => {
      await fs.mkdir(path.dirname(dest), { recursive: true });
      await fs.rename(this.pathOf(from), dest).catch(absentAsUndefined);
    });
  }

  localPath(key: string): string {
    return this.pathOf(key);
  }

  async putBytes(key: string, bytes: Uint8Array): Promise<void> {
    const tmp = path.join(await this.spoolDir(), randomUUID());
    await this.wrap('write', key, async () => {
      const fh = await fs.open(tmp, 'w');
      try {
        await fh.writeFile(bytes);
        await fh.sync();
      } finally {
        await fh.close();
      }
    });
    await this.putFile(key, tmp);
  }

  async read(key: string): Promise<Readable | undefined> {
    const file = this.pathOf(key);
    const fh = await this.wrap('read', key, () => fs.open(file, 'r').catch(absentAsUndefined));
    if (fh && !(await fh.stat()).isFile()) {
      await fh.close(); // a folder of keys, not a key
      return undefined;
    }
    return fh?.createReadStream();
  }

  async stat(key: string): Promise<StoreEntry | undefined> {
    const st = await this.wrap('stat', key, () => fs.stat(this.pathOf(key)).catch(absentAsUndefined));
    return st?.isFile() ? { key, bytes: st.size, modified: st.mtime } : undefined;
  }

  async list(prefix: string): Promise<StoreEntry[]> {
    const baseDir = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const out: StoreEntry[] = [];
    const walk = async (relDir: string): Promise<void> => {
      const entries = await fs.readdir(path.join(this.root, relDir), { withFileTypes: true }).catch(absentAsUndefined);
      for (const e of entries ?? []) {
        const key = relDir ? `${relDir}/${e.name}` : e.name;
        if (!relDir && e.name === TMP) continue;
        if (e.isDirectory()) {
          if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walk(key);
        } else if (e.isFile() && key.startsWith(prefix)) {
          const st = await fs.stat(path.join(this.root, key)).catch(absentAsUndefined);
          if (st) out.push({ key, bytes: st.size, modified: st.mtime });
        }
      }
    };
    await this.wrap('list', prefix || '(root)', () => walk(baseDir));
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await this.wrap('delete', key, () => fs.rm(this.pathOf(key), { force: true }));
  }

  private pathOf(key: string): string {
    return path.join(this.root, ...checkKey(key, `artifact store ${this.url}`).split('/'));
  }

  private async wrap<T>(op: string, key: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new StoreError(this.url, `${op} ${key} failed: ${describeCause(err)}`, { cause: err });
    }
  }
}

function absentAsUndefined(err: NodeJS.ErrnoException): undefined {
  if (err.code === 'ENOENT') return undefined;
  throw err;
}

/**
 * mkdir -p one level at a time: Node's recursive mkdir never returns under /proc (it retries ENOENT forever), so a
 * store path like /proc/foo would hang instead of failing.
 */
async function makeDirs(dir: string): Promise<void> {
  try {
    await fs.mkdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if ((await fs.stat(dir)).isDirectory()) return;
      throw err;
    }
    const parent = path.dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw err;
    await makeDirs(parent);
    await fs.mkdir(dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
}
