// Registry text → validated, frozen Revision. Every problem is collected and reported together,
// each with its path (models.iris.versions.2.weight) and, where known, its line in the file.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import { formatLocation, isInside, LocationError, resolveLocation, type Location } from '../storage/location.js';
import {
  MODEL_NAME_RE,
  modelSchema,
  registrySchema,
  VERSION_NAME_RE,
  versionRef,
  versionSchema,
  type RegistryFile,
  type RegistryFileModel,
} from './schema.js';
import type { ModelEntry, Revision, VersionEntry } from './revision.js';

export interface Problem {
  readonly path: string;
  readonly message: string;
  readonly line?: number;
}

export class RegistryValidationError extends Error {
  readonly problems: readonly Problem[];
  constructor(source: string, problems: readonly Problem[]) {
    super(`registry ${source} is invalid:\n${problems.map((p) => `  - ${formatProblem(p)}`).join('\n')}`);
    this.name = 'RegistryValidationError';
    this.problems = problems;
  }
}

export function formatProblem(p: Problem): string {
  const where = p.path === '' ? '(root)' : p.path;
  return `${where}${p.line === undefined ? '' : ` (line ${p.line})`}: ${p.message}`;
}

export interface ParseOptions {
  /** Where the registry text came from; relative model paths resolve against it. */
  readonly source: Location;
  /** Extra folders local model files may live in (MODEL_ROOTS). */
  readonly modelRoots?: readonly string[];
  /** The gateway's working directory, also an allowed root. */
  readonly cwd?: string;
}

type Path = ReadonlyArray<string | number>;

function lineOf(doc: Document, lines: LineCounter, p: Path): number | undefined {
  // Point at the key that names the path; a missing key is reported at its parent's line.
  for (let n = p.length; n > 0; n--) {
    const parent = doc.getIn(p.slice(0, n - 1), true);
    if (!isMap(parent)) continue;
    const pair = parent.items.find((it) => isScalar(it.key) && String(it.key.value) === String(p[n - 1]));
    const range = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
    if (range) return lines.linePos(range[0]).line;
  }
  const root = doc.contents as { range?: [number, number, number] } | null;
  return root?.range ? lines.linePos(root.range[0]).line : undefined;
}

export function parseRegistry(text: string, options: ParseOptions): Revision {
  const source = formatLocation(options.source);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems: Problem[] = [];
  const at = (p: Path, message: string): void => {
    const line = lineOf(doc, lines, p);
    problems.push(line === undefined ? { path: p.join('.'), message } : { path: p.join('.'), message, line });
  };

  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      problems.push({ path: '', message: e.message.split('\n')[0] ?? e.code, line: lines.linePos(e.pos[0]).line });
    }
    throw new RegistryValidationError(source, problems);
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 100 }) ?? {};
  const parsed = registrySchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
      for (const key of keys) {
        const p = key === undefined ? issue.path : [...issue.path, key];
        at(p as Path, key === undefined ? issue.message : 'unknown key');
      }
    }
  }

  // Cross-field checks run on every model even when the schema failed somewhere, on whatever
  // parts of it did parse, so one report lists every problem of both kinds.
  const rawModels = isRecord(raw) && isRecord(raw.models) ? raw.models : undefined;
  const roots = allowedRoots(options);
  const models = new Map<string, ModelEntry>();
  for (const [name, model] of Object.entries(rawModels ?? {})) {
    const lenient = lenientModel(model);
    if (!lenient) continue;
    const entry = buildModel(name, lenient, options.source, roots, at);
    if (entry) models.set(name, entry);
  }
  if (rawModels !== undefined && Object.keys(rawModels).length === 0) at(['models'], 'must declare at least one model');
  if (!parsed.success || problems.length > 0) throw new RegistryValidationError(source, problems);

  const data: RegistryFile = parsed.data;
  return Object.freeze({
    id: createHash('sha256').update(text).digest('hex').slice(0, 12),
    source,
    cache: Object.freeze({ maxModels: data.cache.maxModels, maxBytes: data.cache.maxBytes }),
    models,
  });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

type FileVersion = RegistryFileModel['versions'][string];

/** A model as far as it parsed: a version that failed the schema is known by name only. */
interface LenientModel extends Omit<RegistryFileModel, 'versions'> {
  readonly versions: Readonly<Record<string, FileVersion | undefined>>;
  /** Whether the versions map itself was a map (else references to versions cannot be checked). */
  readonly versionsKnown: boolean;
  /** Aliases whose target did not parse: a fallback naming one is not reported again. */
  readonly brokenAliases: ReadonlySet<string>;
}

function lenientModel(raw: unknown): LenientModel | undefined {
  const full = modelSchema.safeParse(raw);
  if (full.success) return { ...full.data, versionsKnown: true, brokenAliases: new Set() };
  if (!isRecord(raw)) return undefined;
  const versions: Record<string, FileVersion | undefined> = {};
  if (isRecord(raw.versions)) {
    for (const [name, v] of Object.entries(raw.versions)) {
      const r = versionSchema.safeParse(v);
      versions[name] = r.success ? r.data : undefined;
    }
  }
  const aliases: Record<string, string> = {};
  const brokenAliases = new Set<string>();
  if (isRecord(raw.aliases)) {
    for (const [alias, target] of Object.entries(raw.aliases)) {
      const r = versionRef.safeParse(target);
      if (r.success) aliases[alias] = r.data;
      else brokenAliases.add(alias);
    }
  }
  const fallback = versionRef.safeParse(raw.fallback);
  return {
    versions,
    versionsKnown: isRecord(raw.versions),
    brokenAliases,
    aliases,
    fallback: fallback.success ? fallback.data : undefined,
    sticky: undefined,
    guard: undefined,
  };
}

function allowedRoots(options: ParseOptions): string[] {
  const roots = [options.cwd ?? process.cwd(), ...(options.modelRoots ?? [])];
  if (options.source.kind === 'file') roots.push(path.dirname(options.source.path));
  return roots.map((r) => path.resolve(r));
}

function buildModel(
  name: string,
  model: LenientModel,
  source: Location,
  roots: readonly string[],
  at: (p: Path, message: string) => void,
): ModelEntry | undefined {
  const base = ['models', name];
  if (!MODEL_NAME_RE.test(name)) at(base, `model name "${name}" must match ${MODEL_NAME_RE.source}`);

  const versions: VersionEntry[] = [];
  for (const [vname, v] of Object.entries(model.versions)) {
    const vpath = [...base, 'versions', vname];
    if (!VERSION_NAME_RE.test(vname)) at(vpath, `version name "${vname}" must match ${VERSION_NAME_RE.source}`);
    if (v === undefined) continue; // its schema problem is already reported
    let location: Location;
    try {
      location = resolveLocation(v.uri, source);
    } catch (e) {
      at([...vpath, 'uri'], e instanceof LocationError ? e.message : String(e));
      continue;
    }
    if (location.kind === 'file') {
      const file = location.path;
      if (!roots.some((r) => isInside(r, file))) {
        at([...vpath, 'uri'], `"${v.uri}" is outside the registry's folder, the working directory and MODEL_ROOTS`);
        continue;
      }
      // Checked again with symlinks followed when the file is opened (storage/store.ts).
      location = Object.freeze({ ...location, within: roots });
    }
    const batching = v.batching && Object.freeze({ maxBatchSize: v.batching.maxBatchSize, maxDelayMs: v.batching.maxDelayMs });
    versions.push(Object.freeze({ name: vname, uri: v.uri, location, weight: v.weight, shadow: v.shadow, batching }));
  }
  const names = new Set(Object.keys(model.versions));
  const parsedVersions = Object.values(model.versions);
  if (!model.versionsKnown) {
    // The versions map itself is malformed and already reported; nothing more to check there.
  } else if (names.size === 0) at([...base, 'versions'], 'must declare at least one version');
  else if (parsedVersions.every((v) => v !== undefined && v.weight <= 0)) {
    // Only when every weight parsed: a version refused by the schema may be the one with traffic.
    at([...base, 'versions'], 'at least one version needs weight > 0');
  }

  const aliases = new Map<string, string>();
  for (const [alias, target] of Object.entries(model.aliases)) {
    if (names.has(alias)) at([...base, 'aliases', alias], `alias "${alias}" shadows a version of the same name`);
    else if (!names.has(target)) {
      if (model.versionsKnown) at([...base, 'aliases', alias], `points at unknown version "${target}"`);
    } else aliases.set(alias, target);
  }
  let fallback: string | undefined;
  if (model.fallback !== undefined) {
    fallback = names.has(model.fallback) ? model.fallback : aliases.get(model.fallback);
    const checkable = model.versionsKnown && !model.brokenAliases.has(model.fallback);
    if (fallback === undefined && checkable) at([...base, 'fallback'], `points at unknown version "${model.fallback}"`);
  }
  const g = model.guard;
  return Object.freeze({
    name,
    versions: Object.freeze(versions),
    aliases,
    sticky: model.sticky,
    fallback,
    guard: g
      ? Object.freeze({
          maxErrorRate: g.maxErrorRate,
          maxP99Ms: g.maxP99Ms,
          minRequests: g.minRequests,
          windowSeconds: g.windowSeconds,
        })
      : undefined,
  });
}
