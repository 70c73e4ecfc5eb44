// `model-gateway rollout` and `rollback`: change one model's weights at the registry's source.
// The edit is decided on the text actually read, validated as a whole, and written only if the
// source still has the version that was read (no retry: a person decides whether the edit still
// makes sense after someone else changed the registry).
import { setWeights, updateRegistry, type RegistryEdit, type WeightChanges } from '../registry/editor.js';
import { formatProblem, RegistryValidationError } from '../registry/parse.js';
import { resolveVersionRef, trafficShares, type ModelEntry } from '../registry/revision.js';
import { resolveLocation } from '../storage/location.js';
import { WriteConflictError, type BlobStore } from '../storage/store.js';
import { percent, table } from './format.js';

export const ROLLOUT_USAGE = `usage: model-gateway rollout <registry> <model> <version>=<weight>... [--dry-run]

Sets the weights of the named versions (or aliases) of <model> (versions not named keep
theirs; weights are relative shares) in a registry file (path, file:// or gs://), validates the whole registry, and writes it. Prints each
version's traffic share before and after.

  --dry-run   validate and print the shares, write nothing
  -h, --help  this text

A gs:// registry is written only if it still has the generation that was read: if someone else
changed it meanwhile, nothing is written and the command exits 1; look again and re-run it.
exit codes: 0 done (or nothing to change), 1 refused, invalid or conflict, 2 usage
`;

export const ROLLBACK_USAGE = `usage: model-gateway rollback <registry> <model> [--to <version>] [--dry-run]

Sends all of <model>'s traffic to one version: weight 100 for it, 0 for every other version.
The version is --to (a version or an alias), else the target of the "stable" alias, else the
model's fallback. Validated and written like rollout; prints the traffic shares before and after.

  --to <version>  the version to keep
  --dry-run       validate and print the shares, write nothing
  -h, --help      this text

exit codes: 0 done (or nothing to change), 1 refused, invalid or conflict, 2 usage
`;

export interface EditContext {
  readonly store: BlobStore;
  /** Validation context, as the gateway sees it (MODEL_ROOTS). */
  readonly modelRoots: readonly string[];
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
}

/** The request cannot be applied to this registry; every reason, for the person to fix. */
class Refusal extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
  }
}

/** `v=w` arguments → [version, raw weight] pairs; a string describing the misuse otherwise. */
export function parseWeightArgs(args: readonly string[]): Array<[string, string]> | string {
  const pairs: Array<[string, string]> = [];
  if (args.length === 0) return 'give at least one <version>=<weight>';
  for (const arg of args) {
    const eq = arg.indexOf('=');
    const version = arg.slice(0, eq).trim();
    const raw = arg.slice(eq + 1).trim();
    if (eq < 0 || version === '' || raw === '') return `"${arg}" is not <version>=<weight> (e.g. 2=10)`;
    if (pairs.some(([v]) => v === version)) return `version "${version}" is given twice`;
    pairs.push([version, raw]);
  }
  return pairs;
}

function versionList(model: ModelEntry): string {
  return model.versions.map((v) => v.name).join(', ');
}

/** Only the weights that differ, so an edit that changes nothing leaves the file byte-identical. */
function changesOnly(model: ModelEntry, wanted: ReadonlyMap<string, number>): WeightChanges {
  const changes: Record<string, number> = {};
  for (const v of model.versions) {
    const w = wanted.get(v.name);
    if (w !== undefined && w !== v.weight) changes[v.name] = w;
  }
  return changes;
}

export async function rollout(registry: string, modelName: string, pairs: ReadonlyArray<[string, string]>, dryRun: boolean, ctx: EditContext): Promise<number> {
  return editModel(registry, modelName, dryRun, ctx, (model) => {
    const problems: string[] = [];
    const wanted = new Map<string, number>();
    const named = new Map<string, string>(); // version → the argument that named it
    for (const [ref, raw] of pairs) {
      const w = Number(raw);
      // An alias names its version (canary=50), as it does in a request header.
      const version = resolveVersionRef(model, ref)?.name;
      if (version === undefined) {
        problems.push(`model "${model.name}" has no version or alias "${ref}" (versions: ${versionList(model)})`);
      } else if (!Number.isFinite(w) || w < 0) {
        problems.push(`weight "${raw}" for version "${ref}" must be a number >= 0`);
      } else if (named.has(version)) {
        problems.push(`"${named.get(version)}" and "${ref}" both name version "${version}"`);
      } else {
        wanted.set(version, w);
        named.set(version, ref);
      }
    }
    if (problems.length > 0) throw new Refusal(problems);
    return { changes: changesOnly(model, wanted) };
  });
}

export async function rollback(registry: string, modelName: string, to: string | undefined, dryRun: boolean, ctx: EditContext): Promise<number> {
  return editModel(registry, modelName, dryRun, ctx, (model) => {
    let target: string | undefined;
    let why: string | undefined;
    if (to !== undefined) {
      target = resolveVersionRef(model, to)?.name;
      if (target === undefined) throw new Refusal([`model "${model.name}" has no version or alias "${to}" (versions: ${versionList(model)})`]);
      if (target !== to) why = `the "${to}" alias`;
    } else if (model.aliases.has('stable')) {
      target = model.aliases.get('stable');
      why = 'the "stable" alias';
    } else {
      target = model.fallback;
      why = 'the fallback';
    }
    if (target === undefined) {
      throw new Refusal([`model "${model.name}" has no "stable" alias and no fallback: pass --to <version> (versions: ${versionList(model)})`]);
    }
    const wanted = new Map(model.versions.map((v) => [v.name, v.name === target ? 100 : 0]));
    return { changes: changesOnly(model, wanted), headline: `all traffic to version ${target}${why ? ` (${why})` : ''}` };
  });
}

interface Decision {
  readonly changes: WeightChanges;
  readonly headline?: string;
}

async function editModel(
  registry: string,
  modelName: string,
  dryRun: boolean,
  ctx: EditContext,
  decide: (model: ModelEntry) => Decision,
): Promise<number> {
  let decision: Decision | undefined;
  let result: RegistryEdit;
  try {
    const location = resolveLocation(registry);
    result = await updateRegistry(
      ctx.store,
      location,
      (text, current) => {
        const model = current.models.get(modelName);
        if (!model) throw new Refusal([`the registry has no model "${modelName}" (it has ${[...current.models.keys()].join(', ')})`]);
        decision = decide(model);
        return setWeights(text, modelName, decision.changes);
      },
      { parse: { modelRoots: ctx.modelRoots }, dryRun, retriesOnConflict: 0 },
    );
  } catch (err) {
    ctx.err(describeFailure(registry, err, decision !== undefined));
    return 1;
  }
  ctx.out(describeEdit(registry, modelName, result, decision?.headline));
  return 0;
}

function describeFailure(registry: string, err: unknown, edited: boolean): string {
  if (err instanceof Refusal) return `refused: nothing written\n${err.problems.map((p) => `  - ${p}`).join('\n')}`;
  if (err instanceof RegistryValidationError) {
    const what = edited ? `the edit would leave ${registry} invalid` : `${registry} is invalid as it is; fix it first (see validate)`;
    return `refused: ${what}; nothing written\n${err.problems.map((p) => `  - ${formatProblem(p)}`).join('\n')}`;
  }
  if (err instanceof WriteConflictError) {
    return `conflict: ${registry} changed since it was read (someone else edited it); nothing written.\nLook at the registry again and re-run the command to retry.`;
  }
  return `failed: ${registry}: ${err instanceof Error ? err.message : String(err)}`;
}

function describeEdit(registry: string, modelName: string, edit: RegistryEdit, headline: string | undefined): string {
  const before = edit.before.models.get(modelName);
  const after = edit.after.models.get(modelName);
  if (!before || !after) throw new Error(`model ${modelName} vanished from the edit`);
  const beforeShares = trafficShares(before);
  const afterShares = trafficShares(after);
  const rows = [['version', 'weight', 'before', 'after']];
  for (const v of after.versions) {
    const old = before.versions.find((b) => b.name === v.name)?.weight ?? 0;
    rows.push([v.name, old === v.weight ? String(v.weight) : `${old} → ${v.weight}`, percent(beforeShares.get(v.name) ?? 0), percent(afterShares.get(v.name) ?? 0)]);
  }
  const lines = [`${modelName} in ${registry}${headline ? `: ${headline}` : ''}`, table(rows, ['left', 'left', 'right', 'right'], '  ')];
  const from = edit.before.id;
  const to = edit.after.id;
  if (from === to) lines.push(`no change: the weights are already so; nothing written (revision ${from})`);
  else if (!edit.written) lines.push(`dry run: nothing written (revision ${from} would become ${to})`);
  else {
    const generation = registry.startsWith('gs://') ? ` (generation ${edit.contentVersion})` : '';
    lines.push(`wrote ${registry}: revision ${from} → ${to}${generation}`);
  }
  return lines.join('\n');
}
