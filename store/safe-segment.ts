// One file-name / key segment from an id or name that a user or another system chose (workflow ids, stage names).
import { createHash } from 'node:crypto';

/**
 * Characters other than letters, digits, '.', '_', '-' become '_', and a leading '.' too (no '..', no hidden
 * files); a name that needed changes gets a short hash of the original, so two different names never collide.
 */
export function safeSegment(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\./, '_').slice(0, 100);
  if (cleaned === name && name.length > 0) return name;
  return `${cleaned || '_'}-${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
}
