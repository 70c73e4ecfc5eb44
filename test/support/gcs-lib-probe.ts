// Run as its own process (test/storage/gcs-lib.test.ts), so nothing else has loaded anything:
// a gateway serving a local model, then one whose model is on gs:// (an emulator address where
// nothing listens: the point is what gets loaded, not the download). Prints one JSON line with
// each answer's status and whether @google-cloud/storage was loaded after it.
import { createRequire } from 'node:module';
import { startGateway } from './harness.js';
import { doubler } from './models.js';

const require = createRequire(import.meta.url);
// The library's ESM entry loads its CommonJS parts (and google-auth-library) through require.
const loaded = (): boolean => Object.keys(require.cache).some((k) => k.includes('/node_modules/@google-cloud/storage/'));

const localGw = await startGateway({
  registry: `models:\n  local:\n    versions: { "1": { uri: local.onnx, weight: 1 } }\n`,
  files: { 'local.onnx': doubler },
});
const local = await localGw.post('/predict', { model: 'local', inputs: { x: [[2]] } });
const afterLocal = loaded();
await localGw.close();

const remoteGw = await startGateway({
  registry: `models:\n  remote:\n    versions: { "1": { uri: gs://models/remote.onnx, weight: 1 } }\n`,
  storageEmulatorHost: 'http://127.0.0.1:9',
  gcsRetryOptions: { autoRetry: false, maxRetries: 0 },
});
const remote = await remoteGw.post('/predict', { model: 'remote', inputs: { x: [[2]] } });
const afterRemote = loaded();
await remoteGw.close();
console.log(JSON.stringify({ local: local.status, afterLocal, remote: remote.status, afterRemote }));
