// The alert rules, checked and unit-tested by promtool (Debian's `prometheus` package; .ci/run
// installs it). promtool missing is a failure, not a skip. Each quiet case in prometheus/tests is
// shown to matter: removing the rule condition it leans on must make `promtool test rules` fail.
import { spawnSync } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { makeTempDir, REPO_ROOT, writeFile } from '../support/harness.js';

const RULES = path.join(REPO_ROOT, 'prometheus', 'rules', 'model-gateway.yml');
const TESTS_DIR = path.join(REPO_ROOT, 'prometheus', 'tests');
const TEST_FILES = readdirSync(TESTS_DIR).filter((f) => f.endsWith('.test.yml'));
const README = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
type RuleFile = { groups: Array<{ name: string; rules: Rule[] }> };
const ruleFile = parse(readFileSync(RULES, 'utf8')) as RuleFile;
const alerts = ruleFile.groups.flatMap((g) => g.rules).filter((r): r is Rule & { alert: string } => r.alert !== undefined);

function promtool(...args: string[]): { status: number | null; output: string; missing: boolean } {
  const r = spawnSync('promtool', args, { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}`, missing: (r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' };
}

function requirePromtool(): void {
  expect(promtool('--version').missing, 'promtool is not installed: apt-get install prometheus (see .ci/run)').toBe(false);
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchors(markdown: string): Set<string> {
  const headings = [...markdown.matchAll(/^#{1,6} +(.+)$/gm)].map((m) => (m[1] ?? '').trim());
  return new Set(headings.map((h) => h.toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-')));
}

/** The README's "Operating it" section: from its heading to the next level-2 heading. */
function operatingSection(): string {
  const start = README.indexOf('\n## Operating it');
  expect(start, 'README has an "## Operating it" section').toBeGreaterThan(-1);
  const end = README.indexOf('\n## ', start + 1);
  return README.slice(start, end === -1 ? undefined : end);
}

describe('prometheus/rules/model-gateway.yml', () => {
  it('passes promtool check rules', () => {
    requirePromtool();
    const r = promtool('check', 'rules', RULES);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('passes promtool test rules (prometheus/tests/*.test.yml)', () => {
    requirePromtool();
    expect(TEST_FILES.length).toBeGreaterThan(0);
    const r = promtool('test', 'rules', ...TEST_FILES.map((f) => path.join(TESTS_DIR, f)));
    expect(r.status, r.output).toBe(0);
    expect(r.output).not.toContain('FAILED');
  });

  it('covers what the issue asks for, with a severity, summary, description and a runbook in the README', () => {
    const names = alerts.map((a) => a.alert);
    expect(names).toEqual(
      expect.arrayContaining([
        'ModelGatewayCanaryErrorRatioHigh',
        'ModelGatewayVersionLatencyRegression',
        'ModelGatewayModelLoadFailures',
        'ModelGatewayRegistryReloadFailing',
        'ModelGatewayTrafficShareOffWeight',
        'ModelGatewayGuardRollback',
        'ModelGatewayShadowMismatchHigh',
        'ModelGatewayTargetDown',
        'ModelGatewayDown',
        'ModelGatewayEventLoopLagHigh',
      ]),
    );
    expect(new Set(names).size).toBe(names.length);
    const operating = anchors(operatingSection());
    for (const a of alerts) {
      expect(['critical', 'warning', 'info'], a.alert).toContain(a.labels?.severity);
      expect(a.annotations?.summary, a.alert).toBeTruthy();
      expect(a.annotations?.description, a.alert).toBeTruthy();
      const runbook = a.annotations?.runbook_url ?? '';
      expect(runbook, a.alert).toMatch(/^https:\/\/github\.com\/model-gateway\/model-gateway\/blob\/main\/README\.md#/);
      const anchor = runbook.slice(runbook.indexOf('#') + 1);
      expect(operating.has(anchor), `${a.alert}: README "Operating it" has no heading for #${anchor}`).toBe(true);
    }
  });

  it('has, for every alert, a promtool case where it fires and one where it stays quiet', () => {
    type Case = { alertname: string; exp_alerts?: unknown[] };
    const cases = TEST_FILES.flatMap((f) => {
      const doc = parse(readFileSync(path.join(TESTS_DIR, f), 'utf8')) as { tests: Array<{ alert_rule_test?: Case[] }> };
      return doc.tests.flatMap((t) => t.alert_rule_test ?? []);
    });
    for (const a of alerts) {
      const mine = cases.filter((c) => c.alertname === a.alert);
      expect(mine.some((c) => (c.exp_alerts ?? []).length > 0), `${a.alert} never fires in a test`).toBe(true);
      expect(mine.some((c) => (c.exp_alerts ?? []).length === 0), `${a.alert} is never shown quiet in a test`).toBe(true);
    }
  });
});

/** One condition of one rule, removed: the named test file must then fail on that alert. */
interface Mutation {
  readonly alert: string;
  readonly tests: string;
  /** Text removed from the expression; undefined = drop the rule's `for`. */
  readonly remove?: string;
}

const MUTATIONS: Mutation[] = [
  { alert: 'ModelGatewayCanaryErrorRatioHigh', tests: 'canary-error-ratio', remove: ' + 0.01' },
  { alert: 'ModelGatewayCanaryErrorRatioHigh', tests: 'canary-error-ratio', remove: 'and on (model, version) model_version:gateway_inference_requests:rate5m * 300 >= 20' },
  {
    alert: 'ModelGatewayVersionLatencyRegression',
    tests: 'latency-regression',
    remove: '> on (model) group_left () (1.5 * min by (model) (model_version:gateway_inference_duration_seconds:p99_rate5m))',
  },
  { alert: 'ModelGatewayVersionLatencyRegression', tests: 'latency-regression', remove: '> 0.05' },
  { alert: 'ModelGatewayVersionLatencyRegression', tests: 'latency-regression', remove: 'and on (model, version) model_version:gateway_inference_requests:rate5m * 300 >= 20' },
  { alert: 'ModelGatewayModelLoadFailures', tests: 'model-loads', remove: ' >= 3' },
  { alert: 'ModelGatewayRegistryReloadFailing', tests: 'registry-reloads', remove: ' > 0' },
  { alert: 'ModelGatewayRegistryReloadFailing', tests: 'registry-reloads' },
  { alert: 'ModelGatewayTrafficShareOffWeight', tests: 'traffic-share', remove: ' > 0.2' },
  { alert: 'ModelGatewayTrafficShareOffWeight', tests: 'traffic-share', remove: 'and on (model) sum by (model) (model_version:gateway_inference_requests:rate5m) >= 0.2' },
  { alert: 'ModelGatewayGuardRollback', tests: 'guard-rollback', remove: ' > 0' },
  { alert: 'ModelGatewayShadowMismatchHigh', tests: 'shadow', remove: '> 0.05' },
  {
    alert: 'ModelGatewayShadowMismatchHigh',
    tests: 'shadow',
    remove: 'and on (model, version) sum by (model, version) (increase(gateway_shadow_requests_total{outcome=~"match|mismatch"}[10m])) >= 20',
  },
  { alert: 'ModelGatewayShadowErrors', tests: 'shadow', remove: '> 0.05' },
  { alert: 'ModelGatewayTargetDown', tests: 'process', remove: ' == 0' },
  { alert: 'ModelGatewayDown', tests: 'process', remove: ' == 1' },
  { alert: 'ModelGatewayEventLoopLagHigh', tests: 'process', remove: ' > 0.2' },
];

describe('removing a rule condition makes a rule test fail', () => {
  it('lists a mutation for every alert', () => {
    for (const a of alerts) expect(MUTATIONS.some((m) => m.alert === a.alert), a.alert).toBe(true);
  });

  it.each(MUTATIONS)('$alert without "$remove" fails the promtool tests in $tests', ({ alert, tests, remove }) => {
    requirePromtool();
    const mutated = structuredClone(ruleFile);
    const rule = mutated.groups.flatMap((g) => g.rules).find((r) => r.alert === alert);
    expect(rule, alert).toBeDefined();
    if (!rule) return;
    if (remove === undefined) {
      expect(rule.for, `${alert} has a "for" to drop`).toBeDefined();
      delete rule.for;
    } else {
      expect(rule.expr, `${alert}'s expression no longer contains the condition`).toContain(remove);
      rule.expr = rule.expr.replace(remove, '');
    }
    const temp = makeTempDir('mg-rules-');
    try {
      const rules = writeFile(temp.dir, 'rules/model-gateway.yml', stringify(mutated));
      const test = writeFile(temp.dir, 'tests/x.test.yml', '');
      copyFileSync(path.join(TESTS_DIR, `${tests}.test.yml`), test);
      // Still valid PromQL, so the failure below is the test's verdict, not a syntax error.
      const check = promtool('check', 'rules', rules);
      expect(check.status, check.output).toBe(0);
      const r = promtool('test', 'rules', test);
      expect(r.status, r.output).not.toBe(0);
      expect(r.output).toContain(`alertname: ${alert}`);
    } finally {
      temp.cleanup();
    }
  });
});
