// A registry model entry for routing tests, without parsing a registry: file versions at the
// given weights, sticky on x-user-id, no fallback or guard.
import type { ModelEntry } from '../../src/registry/revision.js';

export function modelEntry(name: string, weights: Record<string, number>, aliases: Record<string, string> = {}): ModelEntry {
  return {
    name,
    versions: Object.entries(weights).map(([version, weight]) => ({
      name: version,
      uri: `${version}.onnx`,
      location: { kind: 'file', path: `/m/${version}.onnx` },
      weight,
      shadow: 0,
    })),
    aliases: new Map(Object.entries(aliases)),
    sticky: 'x-user-id',
    fallback: undefined,
    guard: undefined,
  };
}
