// Where a registry or model file lives. Pure: parses and resolves URIs, touches no disk.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export type Location =
  | { readonly kind: 'gcs'; readonly bucket: string; readonly object: string }
  | {
      readonly kind: 'file';
      readonly path: string;
      /** Folders the file must really (symlinks followed) lie in when opened; unset = anywhere. */
      readonly within?: readonly string[];
    };

const GCS_RE = /^gs:\/\/([a-z0-9][a-z0-9._-]{1,220}[a-z0-9])\/(.+)$/;

export class LocationError extends Error {}

export function formatLocation(loc: Location): string {
  return loc.kind === 'gcs' ? `gs://${loc.bucket}/${loc.object}` : pathToFileURL(loc.path).href;
}

/**
 * Parses `gs://bucket/object`, `file://…`, or a path. A relative path (or relative gs object)
 * resolves against `base`, the location of the registry file that names it.
 */
export function resolveLocation(uri: string, base?: Location): Location {
  if (uri.startsWith('gs://')) {
    const m = GCS_RE.exec(uri);
    if (!m || !m[1] || !m[2]) throw new LocationError(`"${uri}" is not a valid gs://bucket/object URI`);
    return Object.freeze({ kind: 'gcs', bucket: m[1], object: m[2] });
  }
  if (uri.startsWith('file:')) {
    let p: string;
    try {
      p = fileURLToPath(uri);
    } catch {
      throw new LocationError(`"${uri}" is not a valid file:// URL`);
    }
    return Object.freeze({ kind: 'file', path: path.resolve(p) });
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
    throw new LocationError(`"${uri}" has an unsupported scheme (use gs://, file:// or a path)`);
  }
  if (uri.length === 0) throw new LocationError('must not be empty');
  if (path.isAbsolute(uri)) return Object.freeze({ kind: 'file', path: path.resolve(uri) });
  if (base?.kind === 'gcs') {
    const dir = path.posix.dirname(base.object);
    const object = path.posix.normalize(path.posix.join(dir === '.' ? '' : dir, uri));
    if (object.startsWith('../') || object === '..') {
      throw new LocationError(`"${uri}" climbs out of bucket ${base.bucket}`);
    }
    return Object.freeze({ kind: 'gcs', bucket: base.bucket, object });
  }
  const dir = base ? path.dirname(base.path) : process.cwd();
  return Object.freeze({ kind: 'file', path: path.resolve(dir, uri) });
}

/** True when `child` is `root` or lies beneath it. */
export function isInside(root: string, child: string): boolean {
  const rel = path.relative(path.resolve(root), path.resolve(child));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
