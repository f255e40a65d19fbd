/**
 * The session id of a file: derived from its path, so every tab, every reload and
 * every browser that opens the file reaches the same gateway session.
 */

function fnv1a(text: string, seed: number): string {
  let hash = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/** `lab-<file name>-<16 hex digits of the path's hash>`, within `[A-Za-z0-9_.-]{1,128}`. */
export function sessionIdForPath(path: string): string {
  const normalized = path.replace(/^\/+/, '');
  const name = (normalized.split('/').pop() ?? '')
    .replace(/[^A-Za-z0-9_.-]/g, '_')
    .slice(0, 64);
  const hash = fnv1a(normalized, 0x811c9dc5) + fnv1a(normalized, 0x01234567);
  return `lab-${name}-${hash}`;
}
