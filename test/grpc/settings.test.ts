// GRPC_PORT from the environment: 8081 unless set, 0 turns the endpoint off, and it may not
// share PORT (App Engine sets PORT=8081, so app.yaml turns gRPC off).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseSettings } from '../../src/config/settings.js';
import { REPO_ROOT } from '../support/harness.js';

describe('GRPC_PORT', () => {
  it('defaults to 8081, takes a port, and 0 means off', () => {
    expect(parseSettings({}).grpcPort).toBe(8081);
    expect(parseSettings({ GRPC_PORT: '9001' }).grpcPort).toBe(9001);
    expect(parseSettings({ GRPC_PORT: '0' }).grpcPort).toBe(0);
  });

  it('refuses a non-port and a port equal to PORT, naming the variable', () => {
    expect(() => parseSettings({ GRPC_PORT: 'grpc' })).toThrow('GRPC_PORT=grpc: must be a port number');
    expect(() => parseSettings({ GRPC_PORT: '70000' })).toThrow('GRPC_PORT=70000');
    expect(() => parseSettings({ PORT: '8081' })).toThrow('GRPC_PORT=8081 is also PORT');
    expect(parseSettings({ PORT: '0', GRPC_PORT: '0' }).grpcPort).toBe(0);
  });

  it('is off in app.yaml, where App Engine sets PORT=8081 and routes only HTTP', () => {
    const env = (parseYaml(readFileSync(path.join(REPO_ROOT, 'app.yaml'), 'utf8')) as { env_variables: Record<string, string> }).env_variables;
    expect(parseSettings({ ...env, PORT: '8081' }).grpcPort).toBe(0);
  });
});
