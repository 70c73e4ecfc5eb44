// Where revisions come from: a registry file (local, file:// or gs://) that can be probed
// cheaply, read, and edited conditionally; or a single model given by REMOTE_MODEL_PATH, served
// as model `default`, version `1`, from a registry that exists only in memory and never changes.
import path from 'node:path';
import type { BlobStore } from '../storage/store.js';
import { formatLocation, resolveLocation, type Location } from '../storage/location.js';
import { updateRegistry, type RegistryEdit } from './editor.js';
import { loadRegistry } from './load.js';
import { parseRegistry, type ParseOptions } from './parse.js';
import type { Revision } from './revision.js';

export interface SourceRead {
  readonly revision: Revision;
  readonly contentVersion: string;
}

export type RegistryEditFn = (text: string, current: Revision) => string;

export interface RegistrySource {
  /** For logs and the admin API: the registry's URI. */
  readonly description: string;
  /** The source's content version without reading it all (a gs:// metadata request). */
  probe(): Promise<string>;
  /** Throws RegistryValidationError (invalid) or a storage error (unreachable). */
  read(): Promise<SourceRead>;
  /** A conditional read-modify-write; undefined when the source cannot be written. */
  readonly update: ((edit: RegistryEditFn, retriesOnConflict: number) => Promise<RegistryEdit>) | undefined;
}

export type SourceParseOptions = Omit<ParseOptions, 'source'>;

export function storeSource(uri: string, store: BlobStore, parse: SourceParseOptions = {}): RegistrySource {
  const location = resolveLocation(uri);
  return {
    description: formatLocation(location),
    probe: () => store.probe(location),
    read: () => loadRegistry(uri, store, parse),
    update: (edit, retriesOnConflict) => updateRegistry(store, location, edit, { parse, retriesOnConflict }),
  };
}

/** REMOTE_MODEL_PATH: one model file as the whole registry. */
export function singleModelSource(modelUri: string, parse: SourceParseOptions = {}, cwd = process.cwd()): RegistrySource {
  const model = resolveLocation(modelUri, { kind: 'file', path: path.join(cwd, '(REMOTE_MODEL_PATH)') });
  // The model's own folder is allowed: the user named this file explicitly.
  const base: Location = model.kind === 'file' ? { kind: 'file', path: path.join(path.dirname(model.path), '(REMOTE_MODEL_PATH)') } : { kind: 'file', path: path.join(cwd, '(REMOTE_MODEL_PATH)') };
  const text = `models:\n  default:\n    versions:\n      "1": { uri: ${JSON.stringify(formatLocation(model))}, weight: 100 }\n`;
  const revision = parseRegistry(text, { ...parse, source: base });
  return {
    description: `REMOTE_MODEL_PATH=${modelUri}`,
    probe: () => Promise.resolve(revision.id),
    read: () => Promise.resolve({ revision, contentVersion: revision.id }),
    update: undefined,
  };
}
