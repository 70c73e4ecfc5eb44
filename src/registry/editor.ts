// Edits a registry at its source: weights changed in the text itself (YAML through the `yaml`
// document API, so comments and layout survive; JSON re-serialised), validated as a whole before
// anything is written, and written conditionally on the version that was read.
import { isMap, parseDocument } from 'yaml';
import { WriteConflictError, type BlobStore } from '../storage/store.js';
import type { Location } from '../storage/location.js';
import { parseRegistry, type ParseOptions } from './parse.js';
import type { Revision } from './revision.js';

export type WeightChanges = Readonly<Record<string, number>>;

/** The registry text with `model`'s version weights set; every other byte kept where it can be. */
export function setWeights(text: string, model: string, weights: WeightChanges): string {
  if (text.trimStart().startsWith('{')) {
    const data = JSON.parse(text) as { models?: Record<string, { versions?: Record<string, { weight?: number }> }> };
    for (const [version, weight] of Object.entries(weights)) {
      const entry = data.models?.[model]?.versions?.[version];
      if (!entry) throw new Error(`model "${model}" has no version "${version}"`);
      entry.weight = weight;
    }
    return `${JSON.stringify(data, null, 2)}\n`;
  }
  const doc = parseDocument(text, { keepSourceTokens: false });
  for (const [version, weight] of Object.entries(weights)) {
    const entry = doc.getIn(['models', model, 'versions', version], true);
    if (!isMap(entry)) throw new Error(`model "${model}" has no version "${version}"`);
    entry.set('weight', weight);
  }
  return doc.toString({ lineWidth: 0 });
}

export interface RegistryEdit {
  readonly before: Revision;
  readonly after: Revision;
  readonly beforeText: string;
  readonly afterText: string;
  /** The source's content version after the write (or as read, on a dry run). */
  readonly contentVersion: string;
  readonly written: boolean;
}

export interface UpdateOptions {
  /** Validation context: model roots and working directory, as the gateway sees them. */
  readonly parse?: Omit<ParseOptions, 'source'>;
  /** Compute and validate the edit, write nothing. */
  readonly dryRun?: boolean;
  /**
   * Re-read and re-apply the edit when the source changed under us (the guard's write-back).
   * 0 = report the conflict (the CLI: a person decides whether the edit still makes sense).
   */
  readonly retriesOnConflict?: number;
}

/**
 * Reads the registry, applies `edit` to its text, validates the result, and writes it only if the
 * source still has the version that was read. `edit` sees the current revision, so a retry after
 * a conflict decides afresh (e.g. the guard re-checks that the version is not the last one left).
 */
export async function updateRegistry(
  store: BlobStore,
  location: Location,
  edit: (text: string, current: Revision) => string,
  options: UpdateOptions = {},
): Promise<RegistryEdit> {
  for (let attempt = 0; ; attempt++) {
    const { text, contentVersion } = await store.readText(location);
    const before = parseRegistry(text, { ...options.parse, source: location });
    const afterText = edit(text, before);
    const after = parseRegistry(afterText, { ...options.parse, source: location });
    if (options.dryRun || afterText === text) {
      return { before, after, beforeText: text, afterText, contentVersion, written: false };
    }
    try {
      const written = await store.writeText(location, afterText, contentVersion);
      return { before, after, beforeText: text, afterText, contentVersion: written, written: true };
    } catch (err) {
      if (!(err instanceof WriteConflictError) || attempt >= (options.retriesOnConflict ?? 0)) throw err;
    }
  }
}
