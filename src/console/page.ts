// The console page: static HTML; the script (/console/app.js) fills it from the event stream.
// Nothing in it depends on the request, so it can carry no token and no input values.

export const CONSOLE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="color-scheme" content="light dark">
<title>Live rollout console · model-gateway</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/app.css">
<script src="/console/app.js" defer></script>
</head>
<body>
<header class="top">
  <h1>model-gateway <span class="sub">live rollout console</span></h1>
  <dl class="meta">
    <div><dt>Registry revision</dt><dd><code data-field="revision">…</code></dd></div>
    <div><dt>Revision loaded</dt><dd data-field="loadedAt">…</dd></div>
    <div><dt>Updated</dt><dd data-field="updated">connecting…</dd></div>
  </dl>
  <p class="readonly">Read-only: this page changes nothing. Traffic changes go through the registry, with the commands shown under each model.</p>
</header>
<main id="models" aria-busy="true">
  <noscript><p>This page needs JavaScript for its live view. The same data is served as JSON at /console/data.</p></noscript>
</main>
<p id="status" class="status" role="status" aria-live="polite"></p>
<footer>
  <details>
    <summary>What the columns mean</summary>
    <dl class="legend">
      <dt>Weight</dt><dd>the version's share of the model's weights in the registry (configured).</dd>
      <dt>Share</dt><dd>its part of the model's requests over the last minute (actual). A request the fallback rescued counts for both versions.</dd>
      <dt>Req/s</dt><dd>requests per second over the last minute.</dd>
      <dt>Errors</dt><dd>server-side failures ÷ requests over the last minute (what the guard counts; bad input is not an error here).</dd>
      <dt>p50, p99</dt><dd>latency percentiles over the last minute, from a log-scale histogram (about ±20%).</dd>
      <dt>Last 10 min</dt><dd>sparklines, one point per 10 seconds: requests/s (upper, blue) and p99 latency (lower, red); hover for the peak and latest value.</dd>
      <dt>Loaded</dt><dd>whether a session is in memory, the model file's size and how long its last load took.</dd>
      <dt>Guard</dt><dd>automatic rollback state: ok, or rolled back with the reason; effective share after rollbacks; rollbacks since start.</dd>
      <dt>Fallbacks</dt><dd>requests this version failed that the model's fallback answered, over the last minute.</dd>
      <dt>Shadow</dt><dd>for shadow versions: the copied fraction and how often its answers matched the primary's over the last minute.</dd>
    </dl>
  </details>
</footer>
</body>
</html>
`;
