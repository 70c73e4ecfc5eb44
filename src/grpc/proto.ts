// The project's copy of the Open Inference Protocol .proto (proto/, shipped in the package),
// loaded at run time with proto-loader, and the shapes of the messages as proto-loader gives
// them. The path is relative to this module, so it resolves from src/grpc (tsx) and dist/grpc.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const PROTO_PATH = fileURLToPath(new URL('../../proto/open_inference_grpc.proto', import.meta.url));

/**
 * keepCase: field names as in the .proto (model_name). longs: String, so INT64/UINT64 contents
 * beyond 2^53 arrive exact (as decimal strings) rather than rounded through a double. defaults:
 * absent repeated fields are [] and absent strings "", as proto3 means them.
 */
export const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

export const SERVICE_NAME = 'inference.GRPCInferenceService';

/** The service definition (server side) and the client constructor (tests, benchmarks). */
export function loadInferenceService(): { definition: grpc.ServiceDefinition; Client: grpc.ServiceClientConstructor } {
  const packageDefinition = protoLoader.loadSync(PROTO_PATH, LOADER_OPTIONS);
  const loaded = grpc.loadPackageDefinition(packageDefinition) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };
  const Client = loaded.inference.GRPCInferenceService;
  return { definition: Client.service, Client };
}

/** InferTensorContents: one repeated field per element kind; 64-bit integers as strings. */
export interface TensorContents {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: Array<string | number>;
  uint_contents?: number[];
  uint64_contents?: Array<string | number>;
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Uint8Array[];
}

export interface InferInputTensor {
  name: string;
  datatype: string;
  shape: Array<string | number>;
  contents?: TensorContents | null;
}

export interface ModelInferRequest {
  model_name: string;
  model_version: string;
  id: string;
  inputs: InferInputTensor[];
  outputs: Array<{ name: string }>;
  raw_input_contents: Uint8Array[];
}

export interface InferOutputTensor {
  name: string;
  datatype: string;
  shape: number[];
  contents?: TensorContents;
}

export interface ModelInferResponse {
  model_name: string;
  model_version: string;
  id: string;
  outputs: InferOutputTensor[];
  raw_output_contents: Uint8Array[];
}

/** ModelReadyRequest and ModelMetadataRequest: "" means absent, as proto3 sends it. */
export interface ModelRef {
  name: string;
  version: string;
}
