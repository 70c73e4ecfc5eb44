// The live rollout console in a real headless Chromium (Debian's, driven by playwright-core):
// real traffic through a real gateway, then what the page shows, cell by cell.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/routing/route.js';
import { startGateway, type RunningGateway } from '../support/harness.js';
import { doubler, echo, failsOnOdd } from '../support/models.js';

const TOKEN = 'console-e2e-token-5f1c9a';
// Distinctive inputs: neither may ever appear on the page or in its data.
const EVEN = [424242.5, 13579.25];
const ODD = [424242.5, 13579.25, 86420.75];

const registry = (w1: number, w2: number): string => `models:
  iris:
    versions:
      "1": { uri: echo.onnx, weight: ${w1} }
      "2": { uri: odd.onnx, weight: ${w2} }
    aliases: { stable: "1", canary: "2" }
    fallback: "1"
    guard: { maxErrorRate: 0.9, minRequests: 100000 }
  ranker:
    versions:
      "1": { uri: doubler.onnx, weight: 100 }
      "2": { uri: doubler.onnx, weight: 0, shadow: 0.5 }
`;

let gw: RunningGateway;
let browser: Browser;
/** Added to the gateway's clock, to let traffic age out of the one-minute window. */
let clockOffsetMs = 0;

beforeAll(async () => {
  gw = await startGateway({
    registry: registry(80, 20),
    files: { 'echo.onnx': echo, 'odd.onnx': failsOnOdd, 'doubler.onnx': doubler },
    adminToken: TOKEN,
    pollSeconds: 0.2,
    route: { random: seededRandom(20261125) },
    shadowRandom: seededRandom(11),
    now: () => Date.now() + clockOffsetMs,
  });
  gw.gateway.startPolling();
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

afterAll(async () => {
  await browser?.close();
  await gw?.close();
});

/** Sends n unpinned requests, 8 at a time; returns how many each version answered. */
async function drive(n: number, model = 'iris', x = EVEN): Promise<Map<string, number>> {
  const served = new Map<string, number>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      const res = await gw.post('/predict', { model, inputs: { x: model === 'ranker' ? [[x[0]]] : x } });
      expect(res.status).toBe(200);
      const v = res.headers.get('x-model-version') ?? '?';
      served.set(v, (served.get(v) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return served;
}

/** drive() in batches of `perBatch`, the gateway's clock moving 5 s on after each: recent history. */
async function driveOverTime(batches: number, perBatch: number, model = 'iris'): Promise<Map<string, number>> {
  const served = new Map<string, number>();
  for (let b = 0; b < batches; b++) {
    if (b > 0) clockOffsetMs += 5000;
    for (const [v, n] of await drive(perBatch + (b % 3) * 10, model)) served.set(v, (served.get(v) ?? 0) + n);
  }
  return served;
}
const total = (served: Map<string, number>): number => [...served.values()].reduce((a, b) => a + b, 0);

const cell = (page: Page, model: string, version: string, field: string) =>
  page.locator(`tr[data-model="${model}"][data-version="${version}"] [data-field="${field}"]`);
const percent = async (page: Page, model: string, version: string, field: string): Promise<number> =>
  Number((await cell(page, model, version, field).textContent())?.replace('%', ''));

describe('live rollout console in Chromium', () => {
  it('shows configured weights against actual shares, follows a registry edit within 5 s, shows a failing version, and leaks nothing', async () => {
    // 50 s of traffic (within the one-minute window), about 600 requests.
    const served = await driveOverTime(11, 45);
    await drive(40, 'ranker');
    const actual2 = ((served.get('2') ?? 0) / total(served)) * 100;
    expect(Math.abs(actual2 - 20)).toBeLessThan(4); // the seeded router itself is near 80/20

    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    page.on('console', (msg) => msg.type() === 'error' && problems.push(msg.text()));
    const external: string[] = [];
    page.on('request', (req) => !req.url().startsWith(gw.url) && !req.url().startsWith('data:') && external.push(req.url()));

    await page.goto(`${gw.url}/console?token=${TOKEN}`);
    expect(page.url()).toBe(`${gw.url}/console`); // the token left the address bar
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({ name: 'mg_console', httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(cookie?.value).not.toContain(TOKEN);

    await expect.poll(() => cell(page, 'iris', '1', 'weight').textContent(), { timeout: 5000 }).toBe('80%');
    expect(await cell(page, 'iris', '2', 'weight').textContent()).toBe('20%');
    await expect.poll(() => percent(page, 'iris', '2', 'share'), { timeout: 5000 }).toBeCloseTo(actual2, 0);
    expect(Math.abs((await percent(page, 'iris', '1', 'share')) - 80)).toBeLessThan(4);
    expect(Math.abs((await percent(page, 'iris', '2', 'share')) - 20)).toBeLessThan(4);
    expect(Number(await cell(page, 'iris', '1', 'rps').textContent())).toBeGreaterThan(0);
    expect(await cell(page, 'iris', '1', 'errors').textContent()).toBe('0%');
    expect(await cell(page, 'iris', '1', 'p99').textContent()).toMatch(/^\d+(\.\d+)? ms$/);
    await expect.poll(() => cell(page, 'iris', '1', 'loaded').textContent(), { timeout: 5000 }).toMatch(/^yes · \d+\sB · loaded\sin\s\d+(\.\d+)?\sms$/);
    expect(await page.locator('[data-field="revision"]').textContent()).toBe(gw.gateway.registry.current().id);
    expect(await page.locator('[data-command="rollout"]').first().textContent()).toBe(`npx model-gateway rollout ${gw.registryFile} iris 1=80 2=20`);
    expect(await page.locator('[data-command="rollback"]').first().textContent()).toBe(`npx model-gateway rollback ${gw.registryFile} iris`);
    // The shadow copies of ranker answer like the primary.
    await expect.poll(() => cell(page, 'ranker', '2', 'shadow').textContent(), { timeout: 5000 }).toMatch(/^50% copied · 100% match of [1-9]/);

    // The registry file goes to 50/50: the configured weights follow within 5 s.
    const before = gw.gateway.registry.current().id;
    writeFileSync(gw.registryFile, registry(50, 50));
    const edited = Date.now();
    await expect.poll(() => cell(page, 'iris', '2', 'weight').textContent(), { timeout: 5000, interval: 100 }).toBe('50%');
    expect(Date.now() - edited).toBeLessThan(5000);
    expect(await cell(page, 'iris', '1', 'weight').textContent()).toBe('50%');
    expect(await page.locator('[data-field="revision"]').textContent()).not.toBe(before);
    // A minute later, with new traffic only, the actual shares follow too.
    clockOffsetMs += 61_000;
    const after = await driveOverTime(9, 40);
    const after2 = ((after.get('2') ?? 0) / total(after)) * 100;
    await expect.poll(() => percent(page, 'iris', '2', 'share'), { timeout: 5000 }).toBeCloseTo(after2, 0);
    expect(Math.abs((await percent(page, 'iris', '2', 'share')) - 50)).toBeLessThan(5);

    // Version 2 fails on odd-length inputs; the fallback rescues callers, the errors show on 2.
    const rescued = await drive(40, 'iris', ODD); // every caller gets a 200
    expect(rescued.get('1')).toBe(40);
    const errors2 = gw.gateway.stats.summary('iris', '2');
    expect(errors2.errors).toBeGreaterThan(0);
    const expected = (errors2.errors / errors2.requests) * 100;
    await expect.poll(() => percent(page, 'iris', '2', 'errors'), { timeout: 5000 }).toBeCloseTo(expected, 0);
    expect(await cell(page, 'iris', '2', 'errors').getAttribute('class')).toBe('bad');
    expect(await cell(page, 'iris', '1', 'errors').textContent()).toBe('0%');
    await expect.poll(() => cell(page, 'iris', '2', 'fallbacks').textContent(), { timeout: 5000 }).toBe(String(errors2.errors));

    await drive(30, 'ranker'); // the screenshot shows shadow comparisons too
    await expect.poll(() => cell(page, 'ranker', '2', 'shadow').textContent(), { timeout: 5000 }).toMatch(/match of [1-9]/);
    // CONSOLE_SCREENSHOT=docs/console.png refreshes the README's picture (and a -phone.png beside it).
    const screenshot = process.env.CONSOLE_SCREENSHOT ?? path.join(os.tmpdir(), 'model-gateway-console.png');
    await page.screenshot({ path: screenshot, fullPage: true });

    // Neither the token nor any input value is on the page or in its data.
    const html = await page.content();
    const data = (await gw.get('/console/data', { authorization: `Bearer ${TOKEN}` })).text;
    for (const text of [html, data]) {
      expect(text).not.toContain(TOKEN);
      for (const value of ['424242', '13579', '86420']) expect(text).not.toContain(value);
    }
    expect(problems).toEqual([]);
    expect(external).toEqual([]);

    // On a phone-sized screen every row is a card: no sideways scrolling.
    const phone = await context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${gw.url}/console`);
    await expect.poll(() => cell(phone, 'iris', '2', 'weight').textContent(), { timeout: 5000 }).toBe('50%');
    // A string, so the test needs no DOM typings: evaluated in the page.
    expect(await phone.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    if (process.env.CONSOLE_SCREENSHOT) await phone.screenshot({ path: process.env.CONSOLE_SCREENSHOT.replace(/\.png$/, '-phone.png'), fullPage: true });
    await context.close();
  });
});
