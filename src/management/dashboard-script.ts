/**
 * The dashboard's script, sent inline. It polls `api/overview` (relative to the page, so any prefix
 * works), and builds the page with `createElement` and `textContent` only; charts are SVG polylines.
 * Actions are POSTs with a JSON body, which is what the API's cross-site check requires.
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

  function act(name, verb) {
    return fetch(base + 'api/plugins/' + encodeURIComponent(name) + '/' + verb, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
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
    return cell;
  }

  function row(p, intervalS) {
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
    var breakerCell = el('td', { class: 'breakers' });
    m.instances.forEach(function (i) { breakerCell.appendChild(badge(i.breaker, 'b-' + i.breaker)); });
    var tr = el('tr', { 'data-plugin': info.name }, [
      nameCell,
      el('td', { class: 'status' }, [badge(status, 's-' + status)]),
      el('td', { class: 'health' }, [badge(health, 'h-' + health)]),
      el('td', { class: 'version' }, [info.version]),
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
    body.replaceChildren.apply(body, data.plugins.map(function (p) { return row(p, intervalS); }));
    if (data.plugins.length === 0) body.appendChild(el('tr', {}, [el('td', { colspan: '11' }, ['No plugin is loaded.'])]));
    var alerts = document.getElementById('alerts');
    var firing = data.alerts.firing.map(function (a) {
      return el('li', { 'data-alert': a.id }, [a.rule + ' on ' + a.plugin + ': ' + fmt(a.value, 2) + ' (threshold ' + a.threshold + ')']);
    });
    if (firing.length === 0) firing = [el('li', { class: 'none' }, ['none'])];
    alerts.replaceChildren.apply(alerts, firing);
    var events = document.getElementById('events');
    events.replaceChildren.apply(events, data.events.slice(0, 30).map(function (e) {
      return el('li', {}, [
        el('span', { class: 't' }, [new Date(e.t).toLocaleTimeString() + ' ']),
        e.type + ' ' + e.plugin + ': ' + e.message,
      ]);
    }));
    document.getElementById('updated').textContent = 'updated ' + new Date(data.time).toLocaleTimeString();
    pollMs = Math.max(500, Math.min(data.interval, 5000));
  }

  function poll() {
    clearTimeout(timer);
    return fetch(base + 'api/overview', { credentials: 'same-origin', headers: { accept: 'application/json' } })
      .then(function (res) {
        if (!res.ok) throw new Error('the API answered ' + res.status);
        return res.json();
      })
      .then(function (data) {
        render(data);
        document.getElementById('problem').textContent = actionProblem;
        actionProblem = '';
      })
      .catch(function (e) { document.getElementById('problem').textContent = e.message; })
      .then(function () { timer = setTimeout(poll, pollMs); });
  }
  poll();
})();
`;
