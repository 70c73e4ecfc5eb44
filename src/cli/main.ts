#!/usr/bin/env node
// Entry of `npx model-gateway`: see run.ts for the commands.
import { run } from './run.js';

const line = (stream: NodeJS.WriteStream) => (s: string) => stream.write(s.endsWith('\n') ? s : `${s}\n`);

run(process.argv.slice(2), process.env, line(process.stdout), line(process.stderr)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
