// `model-gateway validate <registry> [--check-models]`: the registry's own checks, and with
// --check-models every version fetched and loaded, and signatures compared across versions.
import type { SessionFactory, Signature, TensorSpec } from '../inference/session.js';
import { loadRegistry } from '../registry/load.js';
import { formatProblem, RegistryValidationError, type Problem } from '../registry/parse.js';
import type { ModelEntry, Revision } from '../registry/revision.js';
import type { BlobStore } from '../storage/store.js';

export interface ValidateOptions {
  readonly registry: string;
  readonly checkModels: boolean;
  readonly store: BlobStore;
  readonly factory: SessionFactory;
  readonly modelRoots?: readonly string[];
}

export interface ValidateResult {
  readonly ok: boolean;
  readonly problems: readonly Problem[];
  readonly revision?: Revision;
}

export async function validateRegistry(options: ValidateOptions): Promise<ValidateResult> {
  let revision: Revision;
  try {
    revision = (await loadRegistry(options.registry, options.store, { modelRoots: options.modelRoots ?? [] })).revision;
  } catch (err) {
    if (err instanceof RegistryValidationError) return { ok: false, problems: err.problems };
    return { ok: false, problems: [{ path: '', message: `cannot read ${options.registry}: ${(err as Error).message}` }] };
  }
  if (!options.checkModels) return { ok: true, problems: [], revision };
  const problems: Problem[] = [];
  for (const model of revision.models.values()) problems.push(...(await checkModel(model, options)));
  return { ok: problems.length === 0, problems, revision };
}

async function checkModel(model: ModelEntry, options: ValidateOptions): Promise<Problem[]> {
  const problems: Problem[] = [];
  const signatures: Array<{ version: string; signature: Signature }> = [];
  for (const version of model.versions) {
    const at = `models.${model.name}.versions.${version.name}`;
    try {
      const file = await options.store.fetch(version.location);
      const session = await options.factory.create(file.path);
      signatures.push({ version: version.name, signature: session.signature });
      await session.release();
    } catch (err) {
      problems.push({ path: at, message: `cannot load ${version.uri}: ${(err as Error).message}` });
    }
  }
  const [first, ...rest] = signatures;
  if (!first) return problems;
  for (const other of rest) {
    for (const message of compareSignatures(first.signature, other.signature, first.version)) {
      problems.push({ path: `models.${model.name}.versions.${other.version}`, message });
    }
  }
  return problems;
}

function describeSpec(t: TensorSpec): string {
  return `${t.type}[${t.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)).join(', ')}]`;
}

/** How `other` differs from `base` in ways that would break a caller of `base`. */
export function compareSignatures(base: Signature, other: Signature, baseVersion: string): string[] {
  const out: string[] = [];
  const compare = (kind: 'input' | 'output', a: readonly TensorSpec[], b: readonly TensorSpec[]) => {
    for (const want of a) {
      const got = b.find((t) => t.name === want.name);
      if (!got) out.push(`${kind} "${want.name}" of version "${baseVersion}" is missing`);
      else if (describeSpec(got) !== describeSpec(want)) {
        out.push(`${kind} "${want.name}" is ${describeSpec(got)}, version "${baseVersion}" has ${describeSpec(want)}`);
      }
    }
    for (const extra of b) {
      if (!a.some((t) => t.name === extra.name)) out.push(`${kind} "${extra.name}" is not in version "${baseVersion}"`);
    }
  };
  const tensors = (s: Signature['outputs']) => s.filter((t): t is TensorSpec => t.isTensor);
  compare('input', base.inputs, other.inputs);
  compare('output', tensors(base.outputs), tensors(other.outputs));
  return out;
}

export function formatResult(result: ValidateResult, registry: string): string {
  if (result.ok) {
    const models = result.revision ? [...result.revision.models.values()] : [];
    const versions = models.reduce((n, m) => n + m.versions.length, 0);
    return `${registry}: valid (revision ${result.revision?.id}, ${models.length} models, ${versions} versions)`;
  }
  return `${registry}: ${result.problems.length} problem(s)\n${result.problems.map((p) => `  - ${formatProblem(p)}`).join('\n')}`;
}
