// `npx model-gateway <command>`. Reads the environment like the server does (MODEL_ROOTS,
// MODEL_CACHE_DIR, STORAGE_EMULATOR_HOST) so a registry validates as the gateway would see it.
import { parseArgs } from 'node:util';
import { parseSettings } from '../config/settings.js';
import { createOrtSessionFactory } from '../inference/session.js';
import { createGcsClient } from '../storage/gcs.js';
import { createBlobStore } from '../storage/store.js';
import { formatResult, validateRegistry } from './validate.js';

const USAGE = `usage: model-gateway <command>

commands:
  validate <registry> [--check-models]   check a registry file (path, file:// or gs://);
                                         --check-models also loads every version and
                                         compares signatures across versions of a model
`;

export async function run(argv: readonly string[], env: NodeJS.ProcessEnv, out: (s: string) => void): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    out(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command !== 'validate') {
    out(`unknown command "${command}"\n${USAGE}`);
    return 2;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: [...rest], allowPositionals: true, options: { 'check-models': { type: 'boolean', default: false } } });
  } catch (err) {
    out(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const [registry, ...extra] = parsed.positionals;
  if (registry === undefined || extra.length > 0) {
    out(USAGE);
    return 2;
  }
  const settings = parseSettings(env);
  const store = createBlobStore({
    cacheDir: settings.modelCacheDir,
    gcsClient: () => createGcsClient({ emulatorHost: settings.storageEmulatorHost }),
  });
  const result = await validateRegistry({
    registry,
    checkModels: parsed.values['check-models'] ?? false,
    store,
    factory: createOrtSessionFactory({ intraOpNumThreads: 1 }),
    modelRoots: settings.modelRoots,
  });
  out(formatResult(result, registry));
  return result.ok ? 0 : 1;
}
