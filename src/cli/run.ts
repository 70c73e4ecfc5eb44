// `npx model-gateway <command>`. Reads the environment like the server does (MODEL_ROOTS,
// MODEL_CACHE_DIR, STORAGE_EMULATOR_HOST) so a registry validates as the gateway would see it.
// Exit codes everywhere: 0 done, 1 refused / invalid / conflict, 2 usage.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseSettings } from '../config/settings.js';
import { createOrtSessionFactory } from '../inference/session.js';
import { createGcsClient } from '../storage/gcs.js';
import { createBlobStore, type BlobStore } from '../storage/store.js';
import { parseWeightArgs, rollback, ROLLBACK_USAGE, rollout, ROLLOUT_USAGE, type EditContext } from './rollout.js';
import { fetchStatus, formatStatus, STATUS_USAGE } from './status.js';
import { formatResult, validateRegistry } from './validate.js';

const USAGE = `usage: model-gateway <command> [arguments] [--help]

commands:
  validate <registry> [--check-models]                         check a registry file (path, file://
                                                               or gs://); --check-models also loads
                                                               every version and compares signatures
  status [--url URL] [--token TOKEN]                           the live registry of a running gateway:
                                                               weights, loaded versions, guard state
  rollout <registry> <model> <version>=<weight>... [--dry-run]  change a model's weights, printing the
                                                               traffic shares before and after
  rollback <registry> <model> [--to <version>] [--dry-run]     all of a model's traffic to one version
                                                               (--to, else "stable", else fallback)

\`model-gateway <command> --help\` describes a command.
exit codes: 0 done, 1 refused, invalid or conflict, 2 usage
`;

const VALIDATE_USAGE = `usage: model-gateway validate <registry> [--check-models]

Checks a registry file (path, file:// or gs://) as the gateway would, listing every problem.

  --check-models  also fetch and load every version and compare signatures across the
                  versions of each model
  -h, --help      this text

exit codes: 0 valid, 1 invalid, 2 usage
`;

type Write = (s: string) => void;

interface Io {
  readonly env: NodeJS.ProcessEnv;
  readonly out: Write;
  readonly err: Write;
}

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | undefined>;

interface Command {
  readonly usage: string;
  readonly options: Options;
  /** A usage problem as a string (exit 2), or the exit code. */
  run(positionals: readonly string[], values: Values, io: Io): Promise<number | string>;
}

/** A store whose gs:// client gives up quickly: a person is waiting, and a conflict must show at once. */
function cliStore(env: NodeJS.ProcessEnv): { store: BlobStore; modelRoots: readonly string[] } {
  const settings = parseSettings(env);
  const store = createBlobStore({
    cacheDir: settings.modelCacheDir,
    gcsClient: () =>
      createGcsClient({
        emulatorHost: settings.storageEmulatorHost,
        retryOptions: { autoRetry: true, maxRetries: 2, maxRetryDelay: 2, totalTimeout: 30 },
      }),
  });
  return { store, modelRoots: settings.modelRoots };
}

function editContext(io: Io): EditContext {
  return { ...cliStore(io.env), out: io.out, err: io.err };
}

const COMMANDS: Record<string, Command> = {
  validate: {
    usage: VALIDATE_USAGE,
    options: { 'check-models': { type: 'boolean', default: false } },
    async run([registry, ...extra], values, io) {
      if (registry === undefined || extra.length > 0) return 'validate takes one <registry>';
      const { store, modelRoots } = cliStore(io.env);
      const result = await validateRegistry({
        registry,
        checkModels: values['check-models'] === true,
        store,
        factory: createOrtSessionFactory({ intraOpNumThreads: 1 }),
        modelRoots,
      });
      io.out(formatResult(result, registry));
      return result.ok ? 0 : 1;
    },
  },
  rollout: {
    usage: ROLLOUT_USAGE,
    options: { 'dry-run': { type: 'boolean', default: false } },
    async run([registry, model, ...weights], values, io) {
      if (registry === undefined || model === undefined) return 'rollout needs <registry> <model> <version>=<weight>...';
      const pairs = parseWeightArgs(weights);
      if (typeof pairs === 'string') return pairs;
      return rollout(registry, model, pairs, values['dry-run'] === true, editContext(io));
    },
  },
  rollback: {
    usage: ROLLBACK_USAGE,
    options: { 'dry-run': { type: 'boolean', default: false }, to: { type: 'string' } },
    async run([registry, model, ...extra], values, io) {
      if (registry === undefined || model === undefined || extra.length > 0) return 'rollback needs <registry> <model>';
      const to = typeof values.to === 'string' ? values.to : undefined;
      if (to === '') return '--to needs a version';
      return rollback(registry, model, to, values['dry-run'] === true, editContext(io));
    },
  },
  status: {
    usage: STATUS_USAGE,
    options: { url: { type: 'string' }, token: { type: 'string' } },
    async run(positionals, values, io) {
      if (positionals.length > 0) return 'status takes no positional arguments';
      const url = typeof values.url === 'string' ? values.url : `http://localhost:${io.env.PORT?.trim() || '8080'}`;
      const token = typeof values.token === 'string' ? values.token : io.env.ADMIN_TOKEN?.trim() || undefined;
      const answer = await fetchStatus({ url, token });
      if ('error' in answer) {
        io.err(answer.error);
        return 1;
      }
      io.out(formatStatus(url, answer.registry));
      return 0;
    },
  },
};

/** The problem, the command's usage line, and where to read more. */
function usageProblem(name: string, command: Command, problem: string): string {
  return `${problem}\n${command.usage.split('\n')[0]}\n(model-gateway ${name} --help for details)`;
}

/**
 * Runs one command; `out` gets results, `err` refusals and usage problems (the bin sends them
 * to stdout and stderr). Returns the exit code.
 */
export async function run(argv: readonly string[], env: NodeJS.ProcessEnv, out: Write, err: Write = out): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? err : out)(USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    err(`unknown command "${name}"\n${USAGE}`);
    return 2;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: [...rest], allowPositionals: true, options: { ...command.options, help: { type: 'boolean', short: 'h' } } });
  } catch (e) {
    err(usageProblem(name, command, (e as Error).message));
    return 2;
  }
  if (parsed.values.help === true) {
    out(command.usage);
    return 0;
  }
  const io: Io = { env, out, err };
  const result = await command.run(parsed.positionals, parsed.values, io);
  if (typeof result === 'string') {
    err(usageProblem(name, command, result));
    return 2;
  }
  return result;
}
