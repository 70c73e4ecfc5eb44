// (a) Bare Koa "hello": the ceiling for any Koa server on this machine.
import Koa from 'koa';

const app = new Koa();
app.use((ctx) => {
  ctx.body = { hello: 'world' };
});
const server = app.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
server.keepAliveTimeout = 65_000;
process.on('SIGTERM', () => process.exit(0)); // lets --cpu-prof write its profile
