// grafana/provisioning: the datasource and dashboard provider files parse as Grafana's
// provisioning format, and with the mounts of the README's `docker run` they point at the
// repository's dashboards, which use the provisioned datasource type: no clicking needed.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/harness.js';

const GRAFANA = path.join(REPO_ROOT, 'grafana');
const PROVISIONING = path.join(GRAFANA, 'provisioning');
const README = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');

function yamlFiles(sub: string): Array<{ file: string; doc: Record<string, unknown> }> {
  const dir = path.join(PROVISIONING, sub);
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => ({ file: f, doc: parse(readFileSync(path.join(dir, f), 'utf8')) as Record<string, unknown> }));
}

/** The README's docker run: `-v "$PWD/grafana:<container dir>:ro"` and GF_PATHS_PROVISIONING. */
function dockerRun(): { mount: string; provisioning: string; env: string[] } {
  const command = /docker run[^`]*grafana\/grafana/.exec(README)?.[0] ?? '';
  expect(command, 'README has a docker run … grafana/grafana command').not.toBe('');
  const mount = /-v "?\$PWD\/grafana:([^:"]+)(?::ro)?"?/.exec(command)?.[1] ?? '';
  const provisioning = /-e GF_PATHS_PROVISIONING=(\S+)/.exec(command)?.[1] ?? '';
  const env = [...command.matchAll(/-e ([A-Z_]+)=/g)].map((m) => m[1] ?? '');
  return { mount, provisioning, env };
}

/** Where a path inside the Grafana container lies in the repository, by the README's mount. */
function inRepo(containerPath: string): string {
  const { mount } = dockerRun();
  expect(containerPath.startsWith(mount), `${containerPath} is not under the mounted ${mount}`).toBe(true);
  return path.join(GRAFANA, path.relative(mount, containerPath));
}

describe('grafana/provisioning', () => {
  it('provisions one default Prometheus datasource, its URL from the environment the README sets', () => {
    const files = yamlFiles('datasources');
    expect(files.length).toBeGreaterThan(0);
    const sources = files.flatMap(({ doc }) => {
      expect(doc.apiVersion).toBe(1);
      return doc.datasources as Array<Record<string, unknown>>;
    });
    const defaults = sources.filter((s) => s.isDefault === true);
    expect(defaults).toHaveLength(1);
    expect(defaults[0]).toMatchObject({ type: 'prometheus', access: 'proxy' });
    const url = String(defaults[0]?.url);
    const variable = /^\$\{([A-Z_]+)\}$/.exec(url)?.[1];
    expect(variable, `url ${url} is not an environment reference`).toBeDefined();
    expect(dockerRun().env).toContain(variable);
  });

  it('has a file dashboard provider whose folder, as mounted, holds the repository dashboards', () => {
    const files = yamlFiles('dashboards');
    expect(files.length).toBeGreaterThan(0);
    for (const { file, doc } of files) {
      expect(doc.apiVersion, file).toBe(1);
      for (const provider of doc.providers as Array<{ name: string; type: string; options: { path: string } }>) {
        expect(provider.type).toBe('file');
        const dir = inRepo(provider.options.path);
        expect(existsSync(dir) && statSync(dir).isDirectory(), dir).toBe(true);
        const dashboards = readdirSync(dir).filter((f) => f.endsWith('.json'));
        expect(dashboards).toContain('model-gateway.json');
        for (const d of dashboards) {
          const json = JSON.parse(readFileSync(path.join(dir, d), 'utf8')) as { uid?: string; title?: string; templating: { list: Array<{ type: string; query: string }> } };
          expect(json.uid, d).toBeTruthy();
          expect(json.title, d).toBeTruthy();
          // Its datasource variable picks the provisioned Prometheus (the default of that type).
          expect(json.templating.list.find((v) => v.type === 'datasource')?.query).toBe('prometheus');
        }
      }
    }
  });

  it('is where the README docker run tells Grafana to look for provisioning', () => {
    expect(inRepo(dockerRun().provisioning)).toBe(PROVISIONING);
  });
});
