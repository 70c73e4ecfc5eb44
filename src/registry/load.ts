// Reads the registry from its source (path, file:// or gs://) and validates it.
import type { BlobStore } from '../storage/store.js';
import { resolveLocation, type Location } from '../storage/location.js';
import { parseRegistry } from './parse.js';
import type { Revision } from './revision.js';

export interface LoadedRegistry {
  readonly revision: Revision;
  readonly location: Location;
  /** What identifies the source's content (GCS generation), for conditional writes later. */
  readonly contentVersion: string;
}

export interface LoadRegistryOptions {
  readonly modelRoots?: readonly string[];
  readonly cwd?: string;
}

export async function loadRegistry(uri: string, store: BlobStore, options: LoadRegistryOptions = {}): Promise<LoadedRegistry> {
  const location = resolveLocation(uri);
  const { text, contentVersion } = await store.readText(location);
  const revision = parseRegistry(text, { source: location, ...options });
  return { revision, location, contentVersion };
}
