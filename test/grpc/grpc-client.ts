// A gRPC client for tests, built from the project's .proto with proto-loader (as any grpc-js
// user would), and a gRPC server started on port 0 beside a test gateway.
import * as grpc from '@grpc/grpc-js';
import { startGrpcServer, type GrpcServer, type GrpcServerOptions } from '../../src/grpc/server.js';
import { loadInferenceService } from '../../src/grpc/proto.js';
import { afterEach } from 'vitest';
import { silentLog, startGateway, type RunningGateway, type StartOptions } from '../support/harness.js';

export interface CallResult<T> {
  readonly response?: T;
  /** The error status when the call failed. */
  readonly error?: grpc.ServiceError;
  /** Initial (header) metadata, then trailing metadata, as plain objects of first values. */
  readonly headers: Record<string, string>;
  readonly trailers: Record<string, string>;
}

export interface CallOptions {
  readonly metadata?: Record<string, string>;
  /** Milliseconds from now. */
  readonly deadlineMs?: number;
}

function plain(md: grpc.Metadata | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(md?.getMap() ?? {})) out[k] = typeof v === 'string' ? v : v.toString('utf8');
  return out;
}

export interface GrpcTestClient {
  readonly server: GrpcServer;
  readonly client: grpc.Client;
  call<T = Record<string, unknown>>(method: string, request: object, options?: CallOptions): Promise<CallResult<T>>;
  close(): Promise<void>;
}

type UnaryMethod = (
  request: object,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, response?: unknown) => void,
) => grpc.ClientUnaryCall;

export function connect(address: string, clientOptions: grpc.ClientOptions = {}): grpc.Client {
  const { Client } = loadInferenceService();
  return new Client(address, grpc.credentials.createInsecure(), clientOptions);
}

export function callOn<T>(client: grpc.Client, method: string, request: object, options: CallOptions = {}): Promise<CallResult<T>> {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(options.metadata ?? {})) metadata.set(k, v);
  const callOptions: grpc.CallOptions = options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs };
  const fn = (client as unknown as Record<string, UnaryMethod>)[method];
  if (!fn) throw new Error(`no method ${method}`);
  return new Promise((resolve) => {
    let headers: grpc.Metadata | undefined;
    let outcome: { err: grpc.ServiceError | null; response?: unknown } | undefined;
    let trailers: grpc.Metadata | undefined;
    const settle = () => {
      if (!outcome || !trailers) return;
      const base = { headers: plain(headers), trailers: plain(trailers) };
      resolve(outcome.err ? { ...base, error: outcome.err } : { ...base, response: outcome.response as T });
    };
    const call = fn.call(client, request, metadata, callOptions, (err, response) => {
      outcome = { err, response };
      settle();
    });
    call.on('metadata', (md: grpc.Metadata) => (headers = md));
    call.on('status', (s: grpc.StatusObject) => {
      trailers = s.metadata;
      settle();
    });
  });
}

/** Starts the gRPC endpoint over `gw`'s gateway on a free port, and a client to it. */
export async function startGrpc(gw: RunningGateway, options: Partial<GrpcServerOptions> = {}): Promise<GrpcTestClient> {
  const server = await startGrpcServer({
    gateway: gw.gateway,
    log: silentLog,
    port: 0,
    host: '127.0.0.1',
    maxMessageBytes: 16 * 2 ** 20,
    serverVersion: '9.9.9-test',
    ...options,
  });
  const client = connect(`127.0.0.1:${server.port}`, { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });
  return {
    server,
    client,
    call: (method, request, callOptions) => callOn(client, method, request, callOptions),
    async close() {
      client.close();
      await server.close(1000);
    },
  };
}

/** Starts a gateway and its gRPC endpoint for one test; both are closed after each test. */
export function gatewayPerTest(): (options: StartOptions, grpc?: Partial<GrpcServerOptions>) => Promise<{ gw: RunningGateway; g: GrpcTestClient }> {
  let open: { gw: RunningGateway; g: GrpcTestClient } | undefined;
  afterEach(async () => {
    await open?.g.close();
    await open?.gw.close();
    open = undefined;
  });
  return async (options, grpc = {}) => {
    const gw = await startGateway(options);
    let g: GrpcTestClient;
    try {
      g = await startGrpc(gw, grpc);
    } catch (err) {
      await gw.close();
      throw err;
    }
    open = { gw, g };
    return open;
  };
}

/** Little-endian float32 bytes, as raw_input_contents carries them. */
export function f32Bytes(values: readonly number[]): Buffer {
  return Buffer.from(new Float32Array(values).buffer);
}

export function f32FromBytes(bytes: Uint8Array): number[] {
  const copy = Uint8Array.from(bytes);
  return Array.from(new Float32Array(copy.buffer));
}
