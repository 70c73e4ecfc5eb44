// The request log as Cloud Logging reads it: one JSON line per request with severity, ISO time,
// the id the response carries (the caller's, else its trace id), the trace link when a project is
// set, model, version, route reason, status and latency; and never a tensor value.
import { afterEach, describe, expect, it } from 'vitest';
import { traceContext } from '../../src/http/middleware.js';
import { cachedIsoTime, createLogger, TRACE_FIELD } from '../../src/logging/logger.js';
import { seededRandom } from '../../src/routing/route.js';
import { startGateway, type RunningGateway } from '../support/harness.js';
import { echo, failsOnOdd, garbage } from '../support/models.js';

const REGISTRY = `models:
  m:
    versions:
      "1": { uri: echo.onnx, weight: 1 }
      "2": { uri: echo.onnx, weight: 1 }
    sticky: x-user-id
  f:
    versions:
      bad: { uri: odd.onnx, weight: 1 }
      good: { uri: echo.onnx, weight: 0 }
    fallback: good
  odd:
    versions: { "1": { uri: odd.onnx, weight: 1 } }
  broken:
    versions: { "1": { uri: broken.onnx, weight: 1 } }
`;
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

let gw: RunningGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

/** A gateway logging through the production logger into memory: raw text and parsed lines. */
async function start(googleCloudProject?: string) {
  const raw: string[] = [];
  const log = createLogger({ logLevel: 'debug', googleCloudProject }, { write: (s: string) => void raw.push(s) });
  gw = await startGateway({ registry: REGISTRY, files: { 'echo.onnx': echo, 'odd.onnx': failsOnOdd, 'broken.onnx': garbage }, log, route: { random: seededRandom(3) } });
  const lines = () => raw.map((s) => JSON.parse(s) as Record<string, unknown>);
  const requestLines = (id: string) => lines().filter((l) => l.msg === 'request' && l.requestId === id);
  return { gw, raw, lines, requestLines };
}

describe('the request log line', () => {
  it('carries the x-request-id the caller sent and the response returns, once, with severity, ISO time, model, version, reason, status, latency', async () => {
    const { gw, requestLines } = await start();
    const res = await gw.post('/predict', { model: 'm', inputs: { x: [1] } }, { 'x-request-id': 'caller-id-42' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('caller-id-42');
    const logged = requestLines('caller-id-42');
    expect(logged).toHaveLength(1);
    const [line] = logged;
    expect(line).toMatchObject({ severity: 'INFO', method: 'POST', path: '/predict', status: 200, model: 'm', version: res.headers.get('x-model-version'), reason: 'weighted' });
    expect(typeof line?.time).toBe('string');
    expect(new Date(line?.time as string).toISOString()).toBe(line?.time);
    expect(line?.latencyMs).toBeGreaterThan(0);
  });

  it('carries a generated id, the same one the response returns, when the caller sent none', async () => {
    const { gw, requestLines } = await start();
    const res = await gw.get('/v2/health/live');
    const id = res.headers.get('x-request-id') ?? '';
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(requestLines(id)).toHaveLength(1);
  });

  it('uses a traceparent trace id as the request id, logs trace and span, and links the trace when GOOGLE_CLOUD_PROJECT is set', async () => {
    const { gw, requestLines } = await start('my-project');
    const res = await gw.post('/predict', { model: 'm', inputs: { x: [1] } }, { traceparent: `00-${TRACE_ID}-${SPAN_ID}-01` });
    expect(res.headers.get('x-request-id')).toBe(TRACE_ID);
    const [line] = requestLines(TRACE_ID);
    expect(line).toMatchObject({ traceId: TRACE_ID, [TRACE_FIELD]: `projects/my-project/traces/${TRACE_ID}`, 'logging.googleapis.com/spanId': SPAN_ID });
  });

  it('logs the trace id without the Cloud Logging link when no project is set', async () => {
    const { gw, requestLines } = await start();
    await gw.get('/v2/health/live', { traceparent: `00-${TRACE_ID}-${SPAN_ID}-01` });
    const [line] = requestLines(TRACE_ID);
    expect(line).toMatchObject({ traceId: TRACE_ID, spanId: SPAN_ID });
    expect(line).not.toHaveProperty(TRACE_FIELD);
  });

  it('keeps the caller x-request-id as the id and still logs the traceparent trace', async () => {
    const { gw, requestLines } = await start('p');
    const res = await gw.get('/v2/health/live', { 'x-request-id': 'mine', traceparent: `00-${TRACE_ID}-${SPAN_ID}-00` });
    expect(res.headers.get('x-request-id')).toBe('mine');
    expect(requestLines('mine')[0]).toMatchObject({ traceId: TRACE_ID, [TRACE_FIELD]: `projects/p/traces/${TRACE_ID}` });
  });

  it('takes the trace from x-cloud-trace-context when there is no traceparent', async () => {
    const { gw, requestLines } = await start('p');
    const res = await gw.get('/v2/health/live', { 'x-cloud-trace-context': `${TRACE_ID.toUpperCase()}/1234567890123;o=1` });
    expect(res.headers.get('x-request-id')).toBe(TRACE_ID);
    expect(requestLines(TRACE_ID)[0]).toMatchObject({ [TRACE_FIELD]: `projects/p/traces/${TRACE_ID}`, 'logging.googleapis.com/spanId': '0000011f71fb04cb' });
  });

  it('names how the version was chosen: explicit, sticky, weighted or fallback', async () => {
    const { gw, requestLines } = await start();
    const send = async (body: object, headers: Record<string, string>, id: string) => {
      await gw.post('/predict', body, { ...headers, 'x-request-id': id });
      return requestLines(id)[0];
    };
    expect(await send({ model: 'm', version: '2', inputs: { x: [1] } }, {}, 'e')).toMatchObject({ reason: 'explicit', version: '2' });
    expect(await send({ model: 'm', inputs: { x: [1] } }, { 'x-user-id': 'ann' }, 's')).toMatchObject({ reason: 'sticky' });
    expect(await send({ model: 'm', inputs: { x: [1] } }, {}, 'w')).toMatchObject({ reason: 'weighted' });
    expect(await send({ model: 'f', inputs: { x: [1, 2, 3] } }, {}, 'fb')).toMatchObject({ reason: 'fallback', version: 'good', fallbackFrom: 'bad', status: 200 });
  });

  it('maps levels to Cloud Logging severities: a 5xx request line is WARNING, its error line ERROR', async () => {
    const { gw, lines, requestLines } = await start();
    const res = await gw.post('/predict', { model: 'odd', inputs: { x: [1, 2, 3] } }, { 'x-request-id': 'fails' });
    expect(res.status).toBe(500);
    expect(requestLines('fails')[0]).toMatchObject({ severity: 'WARNING', status: 500 });
    expect(lines().find((l) => l.msg === 'request failed' && l.requestId === 'fails')).toMatchObject({ severity: 'ERROR' });
    expect(lines().every((l) => ['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'].includes(l.severity as string))).toBe(true);
  });

  it('never writes input values, whether the request succeeds, is refused, fails, or falls back', async () => {
    const { gw, raw } = await start('p');
    const v = 7654321.5;
    const answers = [
      await gw.post('/predict', { model: 'm', inputs: { x: [v, v] } }), // success
      await gw.post('/predict', { model: 'm', inputs: { x: [[v], [v, v]] } }), // 400 ragged
      await gw.post('/v2/models/m/infer', { inputs: [{ name: 'x', shape: [1], datatype: 'INT8', data: [v] }] }), // 400 datatype
      await gw.post('/predict', { model: 'odd', inputs: { x: [v, v, v] } }), // 500 inside onnxruntime
      await gw.post('/predict', { model: 'f', inputs: { x: [v, v, v] } }), // fallback
      await gw.post('/predict', { model: 'broken', inputs: { x: [v] } }), // load failure
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 400, 400, 500, 200, 503]);
    // The distinctive value did reach the model: the echo answers with it.
    expect(answers[0]?.text).toContain('7654321.5');
    expect(raw.length).toBeGreaterThan(6);
    expect(raw.join('')).not.toContain('7654321');
  });
});

describe('cachedIsoTime', () => {
  it('writes pino\'s time field for the current millisecond, formatted again only when it changes', () => {
    let now = Date.UTC(2026, 10, 25, 22, 40, 0, 123);
    const time = cachedIsoTime(() => now);
    expect(time()).toBe(',"time":"2026-11-25T22:40:00.123Z"');
    expect(time()).toBe(',"time":"2026-11-25T22:40:00.123Z"');
    now += 1;
    expect(time()).toBe(',"time":"2026-11-25T22:40:00.124Z"');
    now += 86_400_000;
    expect(time()).toBe(',"time":"2026-11-26T22:40:00.124Z"');
  });
});

describe('traceContext', () => {
  const headers = (h: Record<string, string>) => (name: string) => h[name] ?? '';
  it('refuses malformed and all-zero traceparent ids and falls back to x-cloud-trace-context', () => {
    expect(traceContext(headers({ traceparent: `00-${'0'.repeat(32)}-${SPAN_ID}-01` }))).toBeUndefined();
    expect(traceContext(headers({ traceparent: `ff-${TRACE_ID}-${SPAN_ID}-01` }))).toBeUndefined();
    expect(traceContext(headers({ traceparent: `00-${TRACE_ID.slice(1)}-${SPAN_ID}-01` }))).toBeUndefined();
    expect(traceContext(headers({ traceparent: 'garbage', 'x-cloud-trace-context': `${TRACE_ID}/1;o=1` }))).toEqual({ traceId: TRACE_ID, spanId: '0000000000000001' });
    expect(traceContext(headers({ 'x-cloud-trace-context': TRACE_ID }))).toEqual({ traceId: TRACE_ID });
  });
});
