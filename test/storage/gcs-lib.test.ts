// @google-cloud/storage is loaded on first use (src/storage/gcs-lib.ts): a gateway serving only
// local files does without its memory and start-up time.
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/harness.js';
import { runToExit } from '../support/process.js';

describe('the GCS library', () => {
  it('is not loaded while only local models are served, and is once a gs:// model is', async () => {
    const { code, output } = await runToExit(process.execPath, ['--import', 'tsx', 'test/support/gcs-lib-probe.ts'], { cwd: REPO_ROOT, env: process.env });
    expect(code, output).toBe(0);
    const line = output.split('\n').find((l) => l.startsWith('{"local"'));
    expect(JSON.parse(line ?? '{}')).toEqual({ local: 200, afterLocal: false, remote: 503, afterRemote: true });
  });
});
