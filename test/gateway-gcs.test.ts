// A registry and its models in gs://, served through the real @google-cloud/storage client
// against the test GCS server.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeGcs, type FakeGcs } from './support/fake-gcs.js';
import { makeTempDir, startGateway } from './support/harness.js';
import { doubler, tripler } from './support/models.js';

const retry = { autoRetry: false, maxRetries: 0 };
let gcs: FakeGcs;
const temp = makeTempDir();

beforeAll(async () => {
  gcs = await startFakeGcs();
  gcs.put(
    'registry-bkt',
    'prod/models.yaml',
    `models:
  ab:
    versions:
      "1": { uri: gs://models-bkt/ab/1/model.onnx, weight: 1 }
      "2": { uri: models/ab-2.onnx, weight: 0 }
  bad:
    versions: { "1": { uri: gs://models-bkt/bad/model.onnx, weight: 1 } }
`,
  );
  gcs.put('models-bkt', 'ab/1/model.onnx', doubler);
  gcs.put('registry-bkt', 'prod/models/ab-2.onnx', tripler); // relative to the registry object
  gcs.put('models-bkt', 'bad/model.onnx', doubler);
  gcs.corrupt('models-bkt', 'bad/model.onnx');
});
afterAll(async () => {
  await gcs.close();
  temp.cleanup();
});

const start = () =>
  startGateway({
    registry: 'unused: true',
    registryUri: 'gs://registry-bkt/prod/models.yaml',
    storageEmulatorHost: gcs.host,
    gcsRetryOptions: retry,
    modelCacheDir: path.join(temp.dir, 'model-cache'),
  });

describe('gateway on gs://', () => {
  it('serves a gs:// registry and gs:// models; a restart re-downloads only changed objects', async () => {
    const first = await start();
    try {
      expect(first.gateway.registry.current().source).toBe('gs://registry-bkt/prod/models.yaml');
      const v1 = await first.post<{ outputs: { y: number[][] } }>('/predict', { model: 'ab', inputs: { x: [[4]] } });
      expect(v1.body.outputs.y).toEqual([[8]]);
      const v2 = await first.post<{ outputs: { y: number[][] } }>('/predict', { model: 'ab', version: '2', inputs: { x: [[4]] } });
      expect(v2.body.outputs.y).toEqual([[12]]);
    } finally {
      await first.close();
    }
    expect(gcs.mediaDownloads('models-bkt', 'ab/1/model.onnx')).toBe(1);
    expect(gcs.mediaDownloads('registry-bkt', 'prod/models/ab-2.onnx')).toBe(1);

    gcs.put('models-bkt', 'ab/1/model.onnx', tripler); // a new generation of version 1
    const second = await start();
    try {
      await second.gateway.warm();
      const changed = await second.post<{ outputs: { y: number[][] } }>('/predict', { model: 'ab', inputs: { x: [[4]] } });
      expect(changed.body.outputs.y).toEqual([[12]]);
      expect((await second.post('/predict', { model: 'ab', version: '2', inputs: { x: [[1]] } })).status).toBe(200);
    } finally {
      await second.close();
    }
    expect(gcs.mediaDownloads('models-bkt', 'ab/1/model.onnx')).toBe(2);
    expect(gcs.mediaDownloads('registry-bkt', 'prod/models/ab-2.onnx')).toBe(1);
  });

  it('refuses a corrupted model download with 502 JSON, for that model only', async () => {
    const gw = await start();
    try {
      const res = await gw.post<{ error: string; code: string }>('/predict', { model: 'bad', inputs: { x: [[1]] } });
      expect(res.status).toBe(502);
      expect(res.body).toEqual({ error: 'model download failed its integrity check', code: 'STORAGE_ERROR' });
      expect((await gw.post('/predict', { model: 'ab', inputs: { x: [[1]] } })).status).toBe(200);
    } finally {
      await gw.close();
    }
  });

  it('fails to start when the gs:// registry cannot be read', async () => {
    await expect(
      startGateway({ registry: 'x: 1', registryUri: 'gs://registry-bkt/missing.yaml', storageEmulatorHost: gcs.host, gcsRetryOptions: retry }),
    ).rejects.toMatchObject({ code: 'STORAGE_ERROR' });
  });
});
