// (b) The inline server a user writes by hand: Koa, koa-bodyparser, one onnxruntime session,
// nested arrays flattened, no validation, routing, metrics or logs.
import Koa from 'koa';
import bodyParser from 'koa-bodyparser';
import * as ort from 'onnxruntime-node';

const session = await ort.InferenceSession.create(process.env.MODEL as string);
const app = new Koa();
app.use(bodyParser({ jsonLimit: '64mb' }));
app.use(async (ctx) => {
  const { inputs } = ctx.request.body as { inputs: Record<string, unknown[]> };
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, value] of Object.entries(inputs)) {
    const dims: number[] = [];
    for (let v: unknown = value; Array.isArray(v); v = v[0]) dims.push(v.length);
    feeds[name] = new ort.Tensor('float32', Float32Array.from(value.flat(Infinity) as number[]), dims);
  }
  const out = await session.run(feeds);
  ctx.body = { outputs: Object.fromEntries(Object.entries(out).map(([k, t]) => [k, Array.from(t.data as Float32Array)])) };
});
const server = app.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
server.keepAliveTimeout = 65_000;
process.on('SIGTERM', () => process.exit(0)); // lets --cpu-prof write its profile
