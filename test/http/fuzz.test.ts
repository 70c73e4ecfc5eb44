// Property tests over hostile /predict and V2 bodies against a real gateway on a real port: every
// answer is a success or a JSON 4xx with a code, never a 5xx or a hang, and the gateway keeps
// serving. Fixed seeds and run counts keep it reproducible and within a few seconds; on a failure
// fast-check prints the seed, the path and the shrunk counterexample.
import http from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityModel } from '../../tools/onnx-builder.js';
import { startGateway, type RunningGateway } from '../support/harness.js';
import { fixedShape } from '../support/models.js';

const REGISTRY = `
models:
  f32: { versions: { "1": { uri: f32.onnx, weight: 1 } }, aliases: { stable: "1" } }
  f16: { versions: { "1": { uri: f16.onnx, weight: 1 } } }
  grid: { versions: { "1": { uri: grid.onnx, weight: 1 } } }
  i64: { versions: { "1": { uri: i64.onnx, weight: 1 } } }
  u64: { versions: { "1": { uri: u64.onnx, weight: 1 } } }
  str: { versions: { "1": { uri: str.onnx, weight: 1 } } }
  flag: { versions: { "1": { uri: flag.onnx, weight: 1 } } }
`;
const MODELS = ['f32', 'f16', 'grid', 'i64', 'u64', 'str', 'flag'];
const SEED = 20261125;
const REQUEST_TIMEOUT_MS = 5000;

let gw: RunningGateway;
let host: { hostname: string; port: number };
beforeAll(async () => {
  gw = await startGateway({
    registry: REGISTRY,
    files: {
      'f32.onnx': identityModel('float32'),
      'f16.onnx': identityModel('float16'),
      'grid.onnx': fixedShape,
      'i64.onnx': identityModel('int64'),
      'u64.onnx': identityModel('uint64'),
      'str.onnx': identityModel('string'),
      'flag.onnx': identityModel('bool'),
    },
    maxBodyBytes: 256 * 1024,
  });
  const url = new URL(gw.url);
  host = { hostname: url.hostname, port: Number(url.port) };
  await gw.gateway.warm();
});
afterAll(() => gw.close());

interface Sent {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}
interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
}

/** node:http rather than fetch, so raw paths (`..`, bad %-escapes) reach the server unchanged. */
function send(req: Sent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const r = http.request({ ...host, method: req.method, path: req.path, headers: req.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    r.setTimeout(REQUEST_TIMEOUT_MS, () => r.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms (a hang)`)));
    r.on('error', reject);
    r.end(req.body);
  });
}

/** Answers seen, by status and code, so a test can check the runs reached past the parser. */
const seen = new Map<string, number>();

/** The property: a success, or a JSON 4xx {error, code}; never a 5xx, a non-JSON error or a hang. */
async function answersWell(req: Sent): Promise<void> {
  const res = await send(req);
  const key = `${res.status} ${res.status >= 400 ? ((JSON.parse(res.text) as { code?: string }).code ?? '') : ''}`.trim();
  seen.set(key, (seen.get(key) ?? 0) + 1);
  expect(res.status, res.text.slice(0, 300)).toBeLessThan(500);
  expect(res.contentType).toMatch(/^application\/json/);
  const body = JSON.parse(res.text) as Record<string, unknown>;
  if (res.status >= 400) {
    expect(body.code).toMatch(/^[A-Z][A-Z_]+$/);
    expect(typeof body.error).toBe('string');
    expect(res.text).not.toMatch(/\bat .*\.(ts|js):\d+|node_modules/);
    expect(res.text).not.toContain(gw.dir);
  } else {
    expect(res.status).toBe(200);
  }
}

async function servesNormally(): Promise<void> {
  const res = await send({ method: 'POST', path: '/predict', headers: { 'content-type': 'application/json' }, body: '{"model":"f32","inputs":{"in":[1.5,-2]}}' });
  expect([res.status, JSON.parse(res.text)]).toEqual([200, { model: 'f32', version: '1', outputs: { out: [1.5, -2] } }]);
}

// ---- arbitraries -------------------------------------------------------------------------------

const modelName = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...MODELS) },
  fc.constantFrom('nope', '', '..', '../../etc/passwd', 'f32/../f32', 'F32', ' f32', 'ünïcödé', '模型', '\u0000', 'constructor', '__proto__', 'toString'),
  fc.string({ unit: 'binary', maxLength: 12 }),
);

const element = fc.oneof(
  { weight: 6, arbitrary: fc.double() }, // NaN and infinities become null in JSON.stringify
  { weight: 3, arbitrary: fc.integer({ min: -300, max: 300 }) },
  fc.constantFrom(2 ** 53 + 2, -(2 ** 63), 2 ** 64, 1e308, 5e-324, 3.4028235e38, 3.5e38, 65519, 65520, -0, 0.5, 1, 0),
  fc.constantFrom('NaN', 'Infinity', '-Infinity', 'nan', 'inf', '1e5', '0x10', ' 1', '9223372036854775807', '9223372036854775808', '18446744073709551616', '-1', '', '00000000000000000000001'),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.boolean(),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 2 }),
);

const DEEP_MARK = '@@deep-20000@@';
const DEEP_TEXT = `${'['.repeat(20_000)}1${']'.repeat(20_000)}`;

function deepArray(levels: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}

const regular2d = fc
  .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 4 }))
  .chain(([rows, cols]) => fc.array(fc.array(element, { minLength: cols, maxLength: cols }), { minLength: rows, maxLength: rows }));

const tensor: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.array(element, { maxLength: 8 }) },
  { weight: 3, arbitrary: regular2d },
  fc.array(fc.array(element, { maxLength: 4 }), { maxLength: 4 }), // usually ragged
  fc.array(fc.oneof(element, fc.array(element, { maxLength: 2 })), { maxLength: 5 }), // mixed depth
  element,
  fc.integer({ min: 30, max: 36 }).map(deepArray),
  fc.constant(DEEP_MARK), // 20,000 levels (40 KB), spliced in as text: JSON.stringify here would overflow
);

const inputName = fc.oneof({ weight: 5, arbitrary: fc.constantFrom('in', 'grid') }, fc.constantFrom('x', '', 'constructor', 'toString', 'in ', 'IN'), fc.string({ maxLength: 6 }));

const predictBody = fc.record(
  {
    model: fc.oneof({ weight: 8, arbitrary: modelName }, fc.jsonValue({ maxDepth: 1 })),
    version: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('1', 'stable') }, fc.constantFrom('2', '', '__proto__', 'constructor'), fc.integer({ min: -2, max: 3 }), fc.double()),
    inputs: fc.oneof({ weight: 8, arbitrary: fc.dictionary(inputName, tensor, { minKeys: 1, maxKeys: 3 }) }, tensor, fc.jsonValue({ maxDepth: 2 })),
    outputs: fc.oneof({ weight: 4, arbitrary: fc.array(fc.constantFrom('out', 'sum', 'nope', ''), { maxLength: 3 }) }, fc.jsonValue({ maxDepth: 1 })),
  },
  { requiredKeys: ['model', 'inputs'] },
);

const dim = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 4 }) },
  fc.constantFrom(-1, -0, 1.5, 2 ** 31, 2 ** 40, 2 ** 53, 2 ** 53 + 2, 1e300, Number.MAX_SAFE_INTEGER, '2', null),
);
const v2Input = fc.record(
  {
    name: inputName,
    shape: fc.oneof({ weight: 6, arbitrary: fc.array(dim, { maxLength: 4 }) }, fc.constantFrom([2 ** 40], [4096, 4096, 4096], [2 ** 24 + 1]), fc.constant(Array(40).fill(1)), fc.jsonValue({ maxDepth: 1 })),
    datatype: fc.constantFrom('FP32', 'FP16', 'FP64', 'INT64', 'UINT64', 'BYTES', 'BOOL', 'INT8', 'fp32', 'FLOAT', '', 'TYPE_FP32'),
    data: tensor,
    parameters: fc.oneof({ weight: 4, arbitrary: fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 2 })) }, fc.jsonValue({ maxDepth: 2 })),
  },
  { requiredKeys: ['name', 'shape', 'datatype', 'data'] },
);
const v2Body = fc.record(
  {
    id: fc.oneof({ weight: 4, arbitrary: fc.string({ maxLength: 8 }) }, fc.integer()),
    inputs: fc.oneof({ weight: 8, arbitrary: fc.array(v2Input, { maxLength: 3 }) }, fc.jsonValue({ maxDepth: 2 })),
    outputs: fc.oneof({ weight: 4, arbitrary: fc.array(fc.record({ name: fc.constantFrom('out', 'sum', 'nope', '') }), { maxLength: 2 }) }, fc.jsonValue({ maxDepth: 1 })),
    parameters: fc.oneof({ weight: 4, arbitrary: fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 2 })) }, fc.jsonValue({ maxDepth: 2 })),
  },
  { requiredKeys: ['inputs'] },
);

/** Valid elements per model, so well-formed requests succeed and a single mutation is the only fault. */
const validElement: Record<string, fc.Arbitrary<unknown>> = {
  f32: fc.oneof({ weight: 5, arbitrary: fc.float({ noNaN: true, noDefaultInfinity: true }) }, fc.constantFrom('NaN', 'Infinity', '-Infinity', 3.4028235e38)),
  f16: fc.oneof({ weight: 5, arbitrary: fc.integer({ min: -65504, max: 65504 }) }, fc.constantFrom('NaN', '-Infinity', 0.5, 65519)),
  grid: fc.float({ min: -1e6, max: 1e6, noNaN: true }),
  i64: fc.oneof(fc.integer(), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String)),
  u64: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String),
  str: fc.string({ unit: 'binary', maxLength: 8 }),
  flag: fc.oneof(fc.boolean(), fc.constantFrom(0, 1)),
};
const DATATYPE: Record<string, string> = { f32: 'FP32', f16: 'FP16', grid: 'FP32', i64: 'INT64', u64: 'UINT64', str: 'BYTES', flag: 'BOOL' };

interface WellFormed {
  readonly model: string;
  readonly input: string;
  readonly shape: number[];
  readonly values: unknown[];
}

/** A request that fits its model, then at most one hostile element swapped in. */
const wellFormed: fc.Arbitrary<WellFormed> = fc
  .constantFrom(...MODELS)
  .chain((model) => {
    const shape: fc.Arbitrary<number[]> = model === 'grid' ? fc.constant([2, 3]) : fc.integer({ min: 0, max: 6 }).map((n) => [n]);
    return shape.chain((dims) => {
      const n = dims.reduce((a, b) => a * b, 1);
      return fc.record({
        model: fc.constant(model),
        input: fc.constant(model === 'grid' ? 'grid' : 'in'),
        shape: fc.constant(dims),
        values: fc.array(validElement[model] as fc.Arbitrary<unknown>, { minLength: n, maxLength: n }),
      });
    });
  })
  .chain((w) =>
    fc.oneof(
      { weight: 3, arbitrary: fc.constant(w) },
      fc.tuple(fc.nat(), element).map(([i, bad]) => (w.values.length === 0 ? w : { ...w, values: w.values.map((v, j) => (j === i % w.values.length ? bad : v)) })),
    ),
  );

function nestedValues(w: WellFormed): unknown {
  return w.shape.length === 2 ? [w.values.slice(0, 3), w.values.slice(3)] : w.values;
}
/** One in 20 well-formed requests carries 20,000 levels of nesting instead of its data. */
const deepInstead = fc.integer({ min: 0, max: 19 }).map((k) => k === 0);
const wellFormedPredict = fc.tuple(wellFormed, deepInstead).map(([w, deep]) => ({ model: w.model, inputs: { [w.input]: deep ? DEEP_MARK : nestedValues(w) } }));
const wellFormedV2 = fc.tuple(wellFormed, fc.boolean(), deepInstead).map(([w, nested, deep]) => ({
  model: w.model,
  body: { inputs: [{ name: w.input, shape: w.shape, datatype: DATATYPE[w.model], data: deep ? DEEP_MARK : nested ? nestedValues(w) : w.values }] },
}));

/** Keys that pollute prototypes when a parser or a merge is careless, spliced into JSON text. */
const protoBody = fc.constantFrom(
  '{"model":"f32","inputs":{"__proto__":[1],"in":[1]}}',
  '{"model":"f32","inputs":{"__proto__":{"polluted":[1]}}}',
  '{"__proto__":{"model":"f32","inputs":{"in":[1]}},"model":"f32","inputs":{"in":[2]}}',
  '{"model":"f32","inputs":{"constructor":{"prototype":{"polluted":1}},"in":[1]}}',
  '{"model":"f32","inputs":{"in":{"__proto__":[1]}}}',
  '{"inputs":[{"name":"in","shape":[1],"datatype":"FP32","data":[1],"__proto__":{"shape":[9]}}]}',
  '{"inputs":[{"name":"__proto__","shape":[1],"datatype":"FP32","data":[1]}],"parameters":{"__proto__":{"polluted":1}}}',
  '{"constructor":{"prototype":{"polluted":1}},"inputs":[{"name":"in","shape":[1],"datatype":"FP32","data":[1]}]}',
);

const oddText = fc.oneof(
  fc.constantFrom('', ' ', '\n', 'null', '[]', '[1,2]', '"str"', '42', 'true', '{}', '{"model":', '{"model":"f32","inputs":{"in":[1,]}}', '\uFEFF{"model":"f32","inputs":{"in":[1]}}', '{"model":"f32","inputs":{"in":[1e999]}}', '{"model":"f32","inputs":{"in":[NaN]}}'),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.json({ maxDepth: 3 }),
);

const contentType = fc.constantFrom(
  'application/json',
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/octet-stream',
  'multipart/form-data; boundary=x',
  '',
  'garbage/;;;',
);

/** Serialized, and sometimes cut short: truncated JSON. */
function serialized(body: fc.Arbitrary<unknown>): fc.Arbitrary<string> {
  return fc.tuple(body, fc.nat(), fc.boolean()).map(([b, cut, truncate]) => {
    const text = (JSON.stringify(b) ?? 'null').replaceAll(`"${DEEP_MARK}"`, DEEP_TEXT);
    return truncate && text.length > 1 && cut % 5 === 0 ? text.slice(0, cut % text.length) : text;
  });
}

const v2Path = fc
  .tuple(modelName, fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, fc.constantFrom('1', 'stable', '9', '..', '__proto__'), fc.string({ unit: 'binary', maxLength: 6 })))
  .map(([m, v]) => `/v2/models/${encodeURIComponent(m)}${v === undefined ? '' : `/versions/${encodeURIComponent(v)}`}/infer`);
const rawPath = fc.constantFrom(
  '/v2/models/%E0%A4%A/infer',
  '/v2/models/%/infer',
  '/v2/models/%zz/infer',
  '/v2/models/../predict/infer',
  '/v2/models/f32%2F..%2F..%2Fetc/infer',
  '/v2/models/%00/infer',
  '/v2/models/f32/versions/%FF/infer',
  '/v2/models/f32/versions/..%2F1/infer',
  '/predict?model=f32',
  '/predict/',
  '//predict',
);

function request(path: fc.Arbitrary<string>, body: fc.Arbitrary<string>): fc.Arbitrary<Sent> {
  return fc
    .tuple(path, body, contentType, fc.oneof({ weight: 8, arbitrary: fc.constant(undefined) }, fc.constantFrom('1', 'stable', '9', '__proto__', 'constructor', '🙂')), fc.oneof({ weight: 19, arbitrary: fc.constant('POST') }, fc.constant('PUT')))
    .map(([p, b, type, version, method]) => ({
      method,
      path: p,
      headers: { ...(type === '' ? {} : { 'content-type': type }), ...(version === undefined ? {} : { 'x-model-version': encodeURIComponent(version) }) },
      body: b,
    }));
}

/** The generators must produce successes and every kind of refusal, not only parse errors. */
function reachedTheModels(...more: string[]): void {
  const counts = Object.fromEntries(seen);
  seen.clear();
  for (const key of ['200', '400 INVALID_INPUT', '400 BAD_REQUEST', '400 MALFORMED_JSON', '404 MODEL_NOT_FOUND', ...more]) {
    expect(counts[key] ?? 0, `${key} in ${JSON.stringify(counts)}`).toBeGreaterThan(0);
  }
}

// ---- properties --------------------------------------------------------------------------------

describe('hostile input never breaks the gateway', () => {
  const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort();

  it('/predict: malformed JSON, odd content types, ragged, deep and mistyped tensors, odd names', async () => {
    await fc.assert(fc.asyncProperty(request(fc.constant('/predict'), fc.oneof({ weight: 6, arbitrary: serialized(wellFormedPredict) }, { weight: 4, arbitrary: serialized(predictBody) }, oddText, protoBody)), answersWell), {
      seed: SEED,
      numRuns: 1000,
    });
    await servesNormally();
    reachedTheModels();
  }, 30_000);

  it('V2 infer: shape/data mismatches, negative, huge and fractional dims, bad datatypes, odd paths', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { weight: 6, arbitrary: request(fc.constant(''), serialized(fc.constant(null))).chain((r) => wellFormedV2.chain((w) => serialized(fc.constant(w.body)).map((body) => ({ ...r, path: `/v2/models/${w.model}/infer`, body })))) },
          { weight: 5, arbitrary: request(fc.oneof({ weight: 8, arbitrary: v2Path }, rawPath), fc.oneof({ weight: 6, arbitrary: serialized(v2Body) }, oddText, protoBody)) },
        ),
        answersWell,
      ),
      { seed: SEED, numRuns: 1000 },
    );
    await servesNormally();
    reachedTheModels('413 LIMIT_EXCEEDED', '404 VERSION_NOT_FOUND', '404 NOT_FOUND');
  }, 30_000);

  it('leaves Object.prototype untouched and still serves every model afterwards', async () => {
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeys);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await servesNormally();
    const big = await send({
      method: 'POST',
      path: '/v2/models/u64/infer',
      headers: {},
      body: '{"inputs":[{"name":"in","shape":[2],"datatype":"UINT64","data":["18446744073709551615",7]}]}',
    });
    expect(JSON.parse(big.text)).toMatchObject({ outputs: [{ data: ['18446744073709551615', 7] }] });
    const live = await send({ method: 'GET', path: '/v2/health/live', headers: {}, body: '' });
    expect(live.status).toBe(200);
  });
});
