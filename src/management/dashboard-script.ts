/**
 * The dashboard's script, sent inline. It polls `api/overview` and `api/fleet` (relative to the page, so
 * any prefix works), and builds the page with `createElement` and `textContent` only; charts are SVG
 * polylines. Actions (disable, unload, roll back, switch version, pin, flags) are POSTs with a JSON
 * body, which is what the API's cross-site check requires.
 * @module
 */
export const dashboardScript = String.raw`
'use strict';
(function () {
  var base = location.pathname.replace(/\/dashboard$/, '/');
  if (base.charAt(base.length - 1) !== '/') base += '/';
  var SVG = 'http://www.w3.org/2000/svg';
  var pollMs = 2000;
  var timer;
  var confirming = {};
  var opened = {};
  var chosen = {};
  var actionProblem = '';

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) for (var k in attrs) node.setAttribute(k, attrs[k]);
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return node;
  }
  function svg(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    for (var k in attrs) node.setAttribute(k, attrs[k]);
    return node;
  }
  function fmt(n, digits) {
    return n >= 100 ? String(Math.round(n)) : n.toFixed(digits === undefined ? 1 : digits);
  }
  function chart(series, title) {
    var w = 160, h = 40;
    var box = svg('svg', { width: w, height: h, viewBox: '0 0 ' + w + ' ' + h, class: 'chart', role: 'img' });
    var t = svg('title', {});
    t.textContent = title;
    box.appendChild(t);
    box.appendChild(svg('rect', { x: 0.5, y: 0.5, width: w - 1, height: h - 1, class: 'frame' }));
    var max = 0;
    series.forEach(function (s) { s.values.forEach(function (v) { if (v > max) max = v; }); });
    if (max === 0) max = 1;
    series.forEach(function (s) {
      var n = s.values.length;
      if (n === 0) return;
      var pts = s.values.map(function (v, i) {
        var x = n === 1 ? w - 2 : 1 + (i * (w - 3)) / (n - 1);
        var y = h - 2 - (v / max) * (h - 4);
        return x.toFixed(1) + ',' + y.toFixed(1);
      });
      box.appendChild(svg('polyline', { points: pts.join(' '), class: s.cls }));
    });
    return box;
  }
  function badge(text, cls) {
    return el('span', { class: 'badge ' + cls }, [text]);
  }

  function act(name, verb, body) {
    return fetch(base + 'api/plugins/' + encodeURIComponent(name) + '/' + verb, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body || {}),
      credentials: 'same-origin',
    }).then(function (res) {
      if (!res.ok) return res.json().then(function (b) { throw new Error(b.error ? b.error.message : res.status); });
    }).catch(function (e) {
      actionProblem = verb + ' ' + name + ' failed: ' + e.message;
    }).then(poll);
  }

  function actions(p) {
    var cell = el('td', { class: 'actions' });
    var name = p.info.name;
    var toggle = el('button', { type: 'button', 'data-action': p.info.disabled ? 'enable' : 'disable' }, [
      p.info.disabled ? 'Enable' : 'Disable',
    ]);
    toggle.addEventListener('click', function () { act(name, p.info.disabled ? 'enable' : 'disable'); });
    var unload = el('button', { type: 'button', 'data-action': 'unload' }, [confirming[name] ? 'Confirm unload' : 'Unload']);
    unload.addEventListener('click', function () {
      if (confirming[name]) { delete confirming[name]; act(name, 'unload'); }
      else { confirming[name] = true; unload.textContent = 'Confirm unload'; }
    });
    cell.appendChild(toggle);
    cell.appendChild(unload);
    var info = p.info;
    var versions = (info.versions || []).filter(function (v) { return v.outcome !== 'failed'; });
    if (versions.some(function (v) { return v.version !== info.version; })) {
      var back = el('button', { type: 'button', 'data-action': 'rollback' }, ['Roll back']);
      back.addEventListener('click', function () { act(name, 'rollback'); });
      cell.appendChild(back);
      var pick = el('select', { 'data-action': 'version', 'aria-label': 'version of ' + name });
      versions.forEach(function (v) {
        var option = el('option', { value: v.version }, [v.version + (v.version === info.version ? ' (serving)' : '')]);
        if (v.version === (chosen[name] || info.version)) option.selected = true;
        pick.appendChild(option);
      });
      pick.addEventListener('change', function () { chosen[name] = pick.value; });
      var go = el('button', { type: 'button', 'data-action': 'switch' }, ['Switch']);
      go.addEventListener('click', function () {
        var to = pick.value;
        delete chosen[name];
        if (to !== info.version) act(name, 'rollback', { version: to });
      });
      cell.appendChild(pick);
      cell.appendChild(go);
    }
    var pinned = info.pinned !== undefined;
    var pin = el('button', { type: 'button', 'data-action': pinned ? 'unpin' : 'pin' }, [pinned ? 'Unpin ' + info.pinned : 'Pin']);
    pin.addEventListener('click', function () {
      act(name, pinned ? 'unpin' : 'pin', pinned ? {} : { version: info.version });
    });
    cell.appendChild(pin);
    Object.keys(info.flags).sort().forEach(function (flag) {
      var on = info.flags[flag];
      var b = el('button', { type: 'button', 'data-flag': flag, 'aria-pressed': String(on) }, [flag + ': ' + (on ? 'on' : 'off')]);
      b.addEventListener('click', function () { act(name, 'flags', { flag: flag, value: !on }); });
      cell.appendChild(b);
    });
    return cell;
  }

  function eventItem(e) {
    return el('li', {}, [
      el('span', { class: 't' }, [new Date(e.t).toLocaleTimeString() + ' ']),
      e.type + ' ' + e.plugin + ': ' + e.message,
    ]);
  }
  function listOrNone(items, none) {
    return items.length ? items : [el('li', { class: 'none' }, [none])];
  }

  function folded(key, cls, title, items, none) {
    var box = el('details', { class: cls }, [el('summary', {}, [title + ' (' + items.length + ')'])]);
    if (opened[key]) box.open = true;
    box.addEventListener('toggle', function () { opened[key] = box.open; });
    box.appendChild(el('ul', {}, listOrNone(items, none)));
    return box;
  }
  function pluginEvents(name, events) {
    var mine = events.filter(function (e) { return e.plugin === name; }).slice(0, 10);
    return folded('events:' + name, 'plugin-events', 'events', mine.map(eventItem), 'No events yet.');
  }
  function pluginLogs(name, logs) {
    var lines = logs.map(function (l) {
      return el('li', { class: 'l-' + l.level }, [
        el('span', { class: 't' }, [new Date(l.t).toLocaleTimeString() + ' ' + l.level + ' ']),
        l.message,
      ]);
    });
    return folded('logs:' + name, 'plugin-logs', 'log', lines, 'No log lines yet.');
  }

  function row(p, intervalS, events) {
    var info = p.info, m = p.metrics, samples = p.samples;
    // Figures over the last 10 s of samples (at least one), so that they do not flicker with each sample.
    var span = samples.slice(-Math.max(1, Math.round(10 / intervalS)));
    var reqs = 0, errs = 0, p50 = 0, p99 = 0;
    span.forEach(function (s) { reqs += s.requests; errs += s.errors; if (s.p99 > p99) p99 = s.p99; if (s.p50 > p50) p50 = s.p50; });
    var rate = span.length ? reqs / (span.length * intervalS) : 0;
    var errRate = reqs ? errs / reqs : 0;
    var status = info.disabled ? 'disabled' : info.status;
    var health = info.health_check.last ? info.health_check.last.status : 'unknown';
    var open = m.instances.filter(function (i) { return i.breaker !== 'closed'; });
    var nameCell = el('td', {}, [el('div', { class: 'name' }, [info.name])]);
    if (info.metadata.description) nameCell.appendChild(el('div', { class: 'desc' }, [info.metadata.description]));
    if (info.reason) nameCell.appendChild(el('div', { class: 'desc reason' }, [info.reason]));
    nameCell.appendChild(pluginEvents(info.name, events));
    nameCell.appendChild(pluginLogs(info.name, p.logs));
    var breakerCell = el('td', { class: 'breakers' });
    var connectionsCell = el('td', { class: 'num connections' }, [info.connections ? String(info.connections.reduce(function (n, v) { return n + v.active_connections; }, 0)) : '']);
    // Per version once a swap left one draining: the old version keeps its connections until they close.
    if (info.connections && info.connections.length > 1) {
      info.connections.forEach(function (v) {
        var until = v.draining_until ? ' (draining until ' + new Date(v.draining_until).toLocaleTimeString() + ')' : '';
        connectionsCell.appendChild(el('div', { class: 'desc', 'data-version': v.version }, [v.version + ': ' + v.active_connections + until]));
      });
    }
    m.instances.forEach(function (i) { breakerCell.appendChild(badge(i.breaker, 'b-' + i.breaker)); });
    var tr = el('tr', { 'data-plugin': info.name }, [
      nameCell,
      el('td', { class: 'status' }, [badge(status, 's-' + status)]),
      el('td', { class: 'health' }, [badge(health, 'h-' + health)]),
      el('td', { class: 'version' }, [info.version]),
      connectionsCell,
      el('td', { class: 'num rate' }, [fmt(rate)]),
      el('td', { class: 'num errors' }, [fmt(errRate * 100, 0) + '%']),
      el('td', { class: 'num latency' }, [fmt(p50) + ' / ' + fmt(p99)]),
      breakerCell,
      el('td', {}, [chart([
        { cls: 'p50', values: samples.map(function (s) { return s.p50; }) },
        { cls: 'p99', values: samples.map(function (s) { return s.p99; }) },
      ], 'latency of ' + info.name)]),
      el('td', {}, [chart([
        { cls: 'rate', values: samples.map(function (s) { return s.requests / intervalS; }) },
        { cls: 'err', values: samples.map(function (s) { return s.errors / intervalS; }) },
      ], 'traffic of ' + info.name)]),
      actions(p),
    ]);
    if (open.length) tr.setAttribute('data-breaker', 'open');
    return tr;
  }

  function render(data) {
    var intervalS = data.interval / 1000;
    var body = document.querySelector('#plugins tbody');
    body.replaceChildren.apply(body, data.plugins.map(function (p) { return row(p, intervalS, data.events); }));
    if (data.plugins.length === 0) body.appendChild(el('tr', {}, [el('td', { colspan: '12' }, ['No plugin is loaded.'])]));
    var alerts = document.getElementById('alerts');
    var firing = data.alerts.firing.map(function (a) {
      return el('li', { 'data-alert': a.id }, [a.rule + ' on ' + a.plugin + ': ' + fmt(a.value, 2) + ' (threshold ' + a.threshold + ')']);
    });
    if (firing.length === 0) firing = [el('li', { class: 'none' }, ['none'])];
    alerts.replaceChildren.apply(alerts, firing);
    var events = document.getElementById('events');
    events.replaceChildren.apply(events, listOrNone(data.events.slice(0, 30).map(eventItem), 'No events yet.'));
    document.getElementById('updated').textContent = 'updated ' + new Date(data.time).toLocaleTimeString();
    pollMs = Math.max(500, Math.min(data.interval, 5000));
  }

  function renderFleet(gateways) {
    var body = document.querySelector('#fleet tbody');
    var rows = gateways.map(function (g) {
      if (g.refused) {
        return el('tr', { 'data-gateway': g.nodeId, class: 'refused' }, [
          el('td', { class: 'name' }, [g.nodeId]),
          el('td', { colspan: '4', class: 'reason' }, ['record not believed: ' + g.refused]),
        ]);
      }
      var active = g.plugins.filter(function (p) { return p.status === 'active'; }).length;
      var failed = g.plugins.filter(function (p) { return p.status === 'failed'; }).length;
      var last = g.refusals[0];
      return el('tr', { 'data-gateway': g.nodeId }, [
        el('td', { class: 'name' }, [g.nodeId + (g.self ? ' (this gateway)' : '')]),
        el('td', { class: 'env' }, [g.environment + (g.watch ? ', watches ' + g.watch : '')]),
        el('td', { class: 'plugins' }, [active + ' active' + (failed ? ', ' + failed + ' failed' : '') + ' of ' + g.plugins.length]),
        el('td', { class: 'reason' }, [last ? last.name + '@' + last.version + ': ' + last.reason : '']),
        el('td', { class: 't' }, [new Date(g.updatedAt).toLocaleTimeString()]),
      ]);
    });
    if (rows.length === 0) rows = [el('tr', {}, [el('td', { colspan: '5', class: 'none' }, ['This gateway shares no registry with other gateways.'])])];
    body.replaceChildren.apply(body, rows);
  }

  function get(path) {
    return fetch(base + path, { credentials: 'same-origin', headers: { accept: 'application/json' } })
      .then(function (res) {
        if (!res.ok) throw new Error('the API answered ' + res.status);
        return res.json();
      });
  }

  function poll() {
    clearTimeout(timer);
    return Promise.all([get('api/overview'), get('api/fleet')])
      .then(function (both) {
        var data = both[0];
        render(data);
        renderFleet(both[1]);
        document.getElementById('problem').textContent = actionProblem;
        actionProblem = '';
      })
      .catch(function (e) { document.getElementById('problem').textContent = e.message; })
      .then(function () { timer = setTimeout(poll, pollMs); });
  }
  poll();
})();
`;
