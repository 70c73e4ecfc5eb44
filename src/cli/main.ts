#!/usr/bin/env node
// Entry of `npx model-gateway`: see run.ts for the commands.
import { run } from './run.js';

run(process.argv.slice(2), process.env, (s) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
