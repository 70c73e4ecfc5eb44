// The console's stylesheet (/console/app.css): system fonts, no external assets, contrast of at
// least 4.5:1 for text in both colour schemes, and a card layout for each row on narrow screens.

export const CONSOLE_STYLE = `
:root {
  --bg: #ffffff; --fg: #1a1a1a; --muted: #4d4d4d; --line: #d0d4d9; --head: #f2f4f7;
  --accent: #0b57d0; --rps: #0b57d0; --p99: #b3261e; --ok: #146c2e; --bad: #b3261e; --warn: #8a4b00;
  --code: #f5f5f5;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--fg); background: var(--bg);
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #121416; --fg: #e8eaed; --muted: #b8bcc2; --line: #3a3f45; --head: #1e2226;
    --accent: #8ab4f8; --rps: #8ab4f8; --p99: #f28b82; --ok: #81c995; --bad: #f28b82; --warn: #fdd663; --code: #1e2226; }
}
* { box-sizing: border-box; }
body { margin: 0 auto; padding: 1rem 1.25rem 2rem; max-width: 92rem; line-height: 1.4; }
h1 { font-size: 1.35rem; margin: 0 0 .5rem; }
h1 .sub { font-weight: 400; color: var(--muted); }
h2 { font-size: 1.15rem; margin: 1.75rem 0 .25rem; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em; }
.meta { display: flex; flex-wrap: wrap; gap: .25rem 2rem; margin: 0 0 .5rem; }
.meta div { display: flex; gap: .5rem; }
.meta dt { color: var(--muted); }
.meta dd { margin: 0; font-variant-numeric: tabular-nums; }
.readonly { margin: .25rem 0 0; color: var(--muted); font-size: .9rem; }
.model-meta { margin: 0 0 .5rem; color: var(--muted); font-size: .9rem; }
.table-wrap { overflow-x: auto; }
section { min-width: 0; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
caption { text-align: left; color: var(--muted); font-size: .85rem; padding: 0 0 .25rem; }
th, td { padding: .4rem .5rem; border-bottom: 1px solid var(--line); text-align: right; vertical-align: middle; white-space: nowrap; }
thead th { background: var(--head); font-weight: 600; font-size: .85rem; }
th[scope="row"], thead th:first-child { text-align: left; }
td.text, th.text { text-align: left; white-space: normal; min-width: 6.5rem; }
th .key { display: block; font-weight: 400; font-size: .75rem; color: var(--muted); }
.good { color: var(--ok); font-weight: 600; }
.bad { color: var(--bad); font-weight: 600; }
.warn { color: var(--warn); font-weight: 600; }
.dim { color: var(--muted); }
.sparks { display: inline-block; vertical-align: middle; }
.spark { display: block; width: 100px; height: 22px; }
.spark + .spark { margin-top: 2px; }
.spark .rps { stroke: var(--rps); }
.spark .p99 { stroke: var(--p99); }
.commands { margin: .75rem 0 0; display: grid; grid-template-columns: max-content 1fr; gap: .35rem .75rem; align-items: baseline; }
.commands dt { color: var(--muted); font-size: .9rem; }
.commands dd { margin: 0; min-width: 0; }
.commands code { display: block; background: var(--code); border: 1px solid var(--line); border-radius: 4px; padding: .3rem .5rem; overflow-x: auto; white-space: pre; user-select: all; }
.status { color: var(--warn); min-height: 1.4em; }
footer { margin-top: 2rem; font-size: .9rem; }
.legend dt { font-weight: 600; margin-top: .4rem; }
.legend dd { margin: 0 0 0 1rem; color: var(--muted); }
summary { cursor: pointer; color: var(--accent); }
@media (max-width: 760px) {
  body { padding: .75rem; }
  table, thead, tbody, tr, th, td, caption { display: block; }
  thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  tbody tr { border: 1px solid var(--line); border-radius: 6px; margin: 0 0 .75rem; padding: .25rem .5rem; }
  th[scope="row"] { font-size: 1.05rem; border-bottom: 1px solid var(--line); }
  td { display: flex; justify-content: space-between; gap: 1rem; text-align: right; border-bottom: none; padding: .2rem 0; white-space: normal; }
  td::before { content: attr(data-label); color: var(--muted); font-weight: 400; text-align: left; }
  .commands { grid-template-columns: 1fr; }
}
`;
