// Which plasticity commands use the local dev server whose state lives in a folder: one file per process under
// <state>/users/<pid>. The command that started an embedded server stops it only when no other live command uses it,
// so a second `plasticity run` in another terminal is not cut off when the first one ends.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isProcessAlive } from './process-alive';

const usersDir = (stateDir: string) => path.join(stateDir, 'users');

/** Records this process as a user of the server; the returned function takes the record back (idempotent). */
export function registerServerUser(stateDir: string, pid = process.pid): () => void {
  const file = path.join(usersDir(stateDir), String(pid));
  try {
    fs.mkdirSync(usersDir(stateDir), { recursive: true });
    fs.writeFileSync(file, `${new Date().toISOString()}\n`);
  } catch {
    return () => undefined; // read-only state folder: nobody can wait for us, as before
  }
  return () => fs.rmSync(file, { force: true });
}

/** Live processes other than this one that use the server; records of dead processes are removed. */
export function otherServerUsers(stateDir: string, self = process.pid): number[] {
  let names: string[];
  try {
    names = fs.readdirSync(usersDir(stateDir));
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const name of names) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0 || pid === self) continue;
    if (isProcessAlive(pid)) pids.push(pid);
    else fs.rmSync(path.join(usersDir(stateDir), name), { force: true });
  }
  return pids.sort((a, b) => a - b);
}
