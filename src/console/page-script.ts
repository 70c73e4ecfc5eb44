// The console's script (/console/app.js), plain browser JavaScript with no build step. It reads
// snapshots from the event stream (falling back to polling /console/data every 2 s), builds one
// table per model once, then only updates cell text, so selecting a command to copy survives
// updates. Every value goes in through textContent or setAttribute, never as HTML.

export const CONSOLE_SCRIPT = String.raw`'use strict';
(function () {
  var SVG = 'http://www.w3.org/2000/svg';
  var COLUMNS = [
    ['weight', 'Weight'], ['share', 'Share'], ['rps', 'Req/s'], ['errors', 'Errors'],
    ['p50', 'p50'], ['p99', 'p99'], ['trend', 'Last 10 min'], ['loaded', 'Loaded'],
    ['guard', 'Guard'], ['fallbacks', 'Fallbacks'], ['shadow', 'Shadow']
  ];
  var TEXT_COLUMNS = { loaded: true, guard: true, shadow: true };
  /** A second header line: what a column's numbers are of. */
  var KEYS = { share: 'last minute', trend: 'req/s · p99' };
  var models = document.getElementById('models');
  var statusLine = document.getElementById('status');
  var shape = '';
  var rows = new Map();
  var sections = new Map();

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function trim(n, digits) { return String(Number(n.toFixed(digits))); }
  function pct(x) { return x === null || x === undefined ? '—' : trim(x * 100, 1) + '%'; }
  function rate(x) { return x >= 10 ? trim(x, 1) : trim(x, 2); }
  function ms(x) {
    if (x === null || x === undefined) return '—';
    return (x < 1 ? trim(x, 2) : x < 10 ? trim(x, 1) : String(Math.round(x))) + ' ms';
  }
  function bytes(n) {
    if (n === null || n === undefined) return '';
    var units = ['B', 'KB', 'MB', 'GB'];
    var i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return trim(n, i === 0 ? 0 : 1) + ' ' + units[i];
  }
  function time(iso) { var d = new Date(iso); return isNaN(d.getTime()) ? iso : d.toLocaleString(); }
  function setText(node, text, cls) {
    if (node.textContent !== text) node.textContent = text;
    var want = cls || '';
    if (node.className !== want) node.className = want;
  }

  function sparkline(values, cls, label, unit) {
    var svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('viewBox', '0 0 120 22'); // drawn in 120 × 22 units, scaled by CSS
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    var max = 0;
    values.forEach(function (v) { if (v !== null && v > max) max = v; });
    var last = null;
    for (var i = values.length - 1; i >= 0 && last === null; i--) last = values[i];
    function show(v) { return unit === 'ms' ? ms(v) : rate(v) + ' ' + unit; }
    svg.setAttribute('aria-label', label + ' over the last 10 minutes: ' +
      (last === null ? 'no requests' : 'peak ' + show(max) + ', latest ' + show(last)));
    var title = document.createElementNS(SVG, 'title');
    title.textContent = svg.getAttribute('aria-label');
    svg.appendChild(title);
    var step = values.length > 1 ? 120 / (values.length - 1) : 0;
    var d = '';
    var pen = false;
    values.forEach(function (v, i) {
      if (v === null) { pen = false; return; }
      var x = (i * step).toFixed(1);
      var y = (21 - (max > 0 ? (v / max) * 19 : 0)).toFixed(1);
      d += (pen ? 'L' : 'M') + x + ' ' + y + ' ';
      // A lone point (no neighbour on either side) still shows, as a short dash.
      if (!pen && (i + 1 >= values.length || values[i + 1] === null)) d += 'h2 ';
      pen = true;
    });
    var path = document.createElementNS(SVG, 'path');
    // No requests at all: a flat zero for the rate, nothing for the latency.
    if (!d && unit !== 'ms') d = 'M0 21 L120 21';
    if (!d) return svg;
    path.setAttribute('d', d.trim());
    path.setAttribute('class', cls);
    path.setAttribute('fill', 'none');
    path.setAttribute('stroke-width', '1.5');
    path.setAttribute('vector-effect', 'non-scaling-stroke');
    svg.appendChild(path);
    return svg;
  }

  function build(snapshot) {
    models.textContent = '';
    rows.clear();
    sections.clear();
    snapshot.models.forEach(function (model, index) {
      var id = 'model-' + index;
      var section = el('section', { 'aria-labelledby': id, 'data-model-section': model.name });
      section.appendChild(el('h2', { id: id }, model.name));
      var meta = el('p', { 'class': 'model-meta' });
      section.appendChild(meta);
      // Scrolls sideways on narrow screens: focusable, so it scrolls from the keyboard too.
      var wrap = el('div', { 'class': 'table-wrap', role: 'region', tabindex: '0', 'aria-labelledby': id });
      var table = el('table');
      table.appendChild(el('caption', null, 'Versions of ' + model.name + ': configured weight, and traffic over the last minute'));
      var head = el('tr');
      head.appendChild(el('th', { scope: 'col' }, 'Version'));
      COLUMNS.forEach(function (c) {
        var th = el('th', { scope: 'col' }, c[1]);
        if (KEYS[c[0]]) th.appendChild(el('span', { 'class': 'key' }, KEYS[c[0]]));
        if (TEXT_COLUMNS[c[0]]) th.className = 'text';
        head.appendChild(th);
      });
      var thead = el('thead');
      thead.appendChild(head);
      table.appendChild(thead);
      var tbody = el('tbody');
      model.versions.forEach(function (version) {
        var tr = el('tr', { 'data-model': model.name, 'data-version': version.name });
        tr.appendChild(el('th', { scope: 'row' }, version.name));
        var cells = {};
        COLUMNS.forEach(function (c) {
          var td = el('td', { 'data-field': c[0], 'data-label': c[1] });
          if (TEXT_COLUMNS[c[0]]) td.className = 'text';
          tr.appendChild(td);
          cells[c[0]] = td;
        });
        tbody.appendChild(tr);
        rows.set(model.name + '\u0000' + version.name, cells);
      });
      table.appendChild(tbody);
      wrap.appendChild(table);
      section.appendChild(wrap);
      var commands = el('dl', { 'class': 'commands' });
      commands.appendChild(el('dt', null, 'Roll out (edit the weights)'));
      var rollout = el('dd');
      rollout.appendChild(el('code', { 'data-command': 'rollout' }));
      commands.appendChild(rollout);
      commands.appendChild(el('dt', null, 'Roll back'));
      var rollback = el('dd');
      rollback.appendChild(el('code', { 'data-command': 'rollback' }));
      commands.appendChild(rollback);
      section.appendChild(commands);
      models.appendChild(section);
      sections.set(model.name, { meta: meta, commands: commands, rollout: rollout.firstChild, rollback: rollback.firstChild });
    });
  }

  function modelMeta(model) {
    var parts = [rate(model.rps) + ' req/s'];
    if (model.sticky) parts.push('sticky on ' + model.sticky);
    parts.push(model.fallback ? 'fallback: version ' + model.fallback : 'no fallback');
    var aliases = Object.keys(model.aliases).map(function (a) { return a + ' → ' + model.aliases[a]; });
    if (aliases.length) parts.push('aliases: ' + aliases.join(', '));
    return parts.join(' · ');
  }

  function update(model, v, cells) {
    var traffic = v.requests > 0;
    setText(cells.weight, pct(v.configuredShare));
    setText(cells.share, pct(v.share));
    setText(cells.rps, rate(v.rps));
    setText(cells.errors, traffic ? pct(v.errorRatio) : '—', v.errorRatio > 0 ? 'bad' : '');
    setText(cells.p50, ms(v.p50Ms));
    setText(cells.p99, ms(v.p99Ms));
    var sparks = el('span', { 'class': 'sparks' });
    sparks.append(sparkline(v.spark.rps, 'rps', 'Requests per second', 'req/s'), sparkline(v.spark.p99Ms, 'p99', 'p99 latency', 'ms'));
    cells.trend.replaceChildren(sparks);
    // Parts wrap only between each other, never inside "120 KB" or "loaded in 34 ms".
    var parts = [v.loaded ? 'yes' : v.state === 'failed' ? 'load failed' : 'no'];
    if (v.loaded && v.bytes !== null) parts.push(bytes(v.bytes));
    if (v.loadMs !== null) parts.push('loaded in ' + ms(v.loadMs));
    var loaded = parts.map(function (p) { return p.replace(/ /g, '\u00a0'); }).join(' · ');
    setText(cells.loaded, loaded, v.state === 'failed' ? 'text bad' : v.loaded ? 'text' : 'text dim');
    var guard;
    var guardClass = 'text';
    if (!v.guard) guard = 'no guard';
    else if (v.guard.state === 'rolled_back') { guard = 'rolled back (' + (v.guard.reason || '?') + ')'; guardClass = 'text bad'; }
    else { guard = 'ok'; guardClass = 'text good'; }
    if (Math.abs(v.effectiveShare - v.configuredShare) > 1e-9) guard += ' · effective ' + pct(v.effectiveShare);
    if (v.rollbacks > 0) guard += ' · ' + v.rollbacks + (v.rollbacks === 1 ? ' rollback' : ' rollbacks');
    setText(cells.guard, guard, guardClass);
    var fallbacks = model.fallback === v.name ? 'is the fallback' : model.fallback ? String(v.fallbacks) : '—';
    setText(cells.fallbacks, fallbacks, v.fallbacks > 0 ? 'warn' : '');
    var compared = v.shadow.match + v.shadow.mismatch;
    var shadow = v.shadowFraction > 0 ? pct(v.shadowFraction) + ' copied' : '—';
    if (v.shadowMatchRatio !== null) shadow += ' · ' + pct(v.shadowMatchRatio) + ' match of ' + compared;
    if (v.shadow.error > 0) shadow += ' · ' + v.shadow.error + ' failed';
    setText(cells.shadow, shadow, 'text' + (v.shadowMatchRatio !== null && v.shadowMatchRatio < 1 ? ' warn' : ''));
  }

  function render(snapshot) {
    var next = JSON.stringify(snapshot.models.map(function (m) { return [m.name, m.versions.map(function (v) { return v.name; })]; }));
    if (next !== shape) { build(snapshot); shape = next; }
    setText(document.querySelector('[data-field="revision"]'), snapshot.revision);
    setText(document.querySelector('[data-field="loadedAt"]'), time(snapshot.loadedAt));
    setText(document.querySelector('[data-field="updated"]'), time(snapshot.at));
    snapshot.models.forEach(function (model) {
      var s = sections.get(model.name);
      setText(s.meta, modelMeta(model), 'model-meta');
      s.commands.hidden = model.commands === null;
      if (model.commands) {
        setText(s.rollout, model.commands.rollout);
        setText(s.rollback, model.commands.rollback);
      }
      model.versions.forEach(function (v) { update(model, v, rows.get(model.name + '\u0000' + v.name)); });
    });
    models.setAttribute('aria-busy', 'false');
    setText(statusLine, '', 'status');
  }

  function poll() {
    fetch('/console/data', { credentials: 'same-origin', cache: 'no-store' }).then(function (res) {
      if (res.status === 401) { setText(statusLine, 'Signed out: open /console?token=… again.', 'status'); return; }
      if (!res.ok) throw new Error(String(res.status));
      return res.json().then(render).then(function () { setTimeout(poll, 2000); });
    }).catch(function () {
      setText(statusLine, 'Gateway unreachable; retrying…', 'status');
      setTimeout(poll, 2000);
    });
  }

  if (typeof EventSource === 'function') {
    var source = new EventSource('/console/events');
    source.onmessage = function (event) { render(JSON.parse(event.data)); };
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) { source.close(); poll(); }
      else setText(statusLine, 'Connection lost; reconnecting…', 'status');
    };
  } else {
    poll();
  }
})();
`;
