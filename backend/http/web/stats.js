// The visits page of one link (/manage/stats?code=…): the API key comes from
// the management page's sign-in (sessionStorage); charts are SVG drawn here.
(function () {
  'use strict';
  const $ = function (id) { return document.getElementById(id); };
  const svgNS = 'http://www.w3.org/2000/svg';
  const params = new URLSearchParams(location.search);
  const code = params.get('code') || '';
  const domain = params.get('domain') || ''; // a link on another short domain
  const onDomain = domain ? 'domain=' + encodeURIComponent(domain) + '&' : '';
  const ranges = { '48h': [2, 'hour'], '7d': [7, 'day'], '30d': [30, 'day'], '365d': [365, 'day'] };

  function status(text) { $('status').textContent = text; }

  async function load() {
    const key = sessionStorage.getItem('kurz.key') || '';
    if (!key) { status('Sign in on the management page first.'); return; }
    const r = ranges[$('range').value];
    const from = new Date(Date.now() - r[0] * 86400000).toISOString();
    const path = (code ? '/api/links/' + encodeURIComponent(code) + '/stats?' + onDomain : '/api/stats?') +
      'interval=' + r[1] + '&from=' + encodeURIComponent(from);
    let res;
    try {
      res = await fetch(path, { headers: { 'Authorization': 'Bearer ' + key, 'Accept': 'application/json' } });
    } catch (e) { status('Cannot reach the shortener. Check your connection and try again.'); return; }
    if (res.status === 401) { status('Your key is not valid any more: sign in again on the management page.'); return; }
    if (res.status === 404) { status('There is no link ' + code + ' among yours.'); return; }
    if (!res.ok) { status('The statistics are unavailable right now. Please try again in a moment.'); return; }
    show(await res.json(), r[1]);
    latest('');
  }

  // The visit log, newest first, a page at a time (kept for the server's retention).
  let nextCursor = '';
  async function latest(cursor) {
    const key = sessionStorage.getItem('kurz.key') || '';
    const path = (code ? '/api/links/' + encodeURIComponent(code) + '/visits?' + onDomain : '/api/visits?') +
      'limit=50' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : '');
    const body = $('latest').tBodies[0];
    if (!cursor) body.replaceChildren();
    let res;
    try {
      res = await fetch(path, { headers: { 'Authorization': 'Bearer ' + key, 'Accept': 'application/json' } });
    } catch (e) { return; }
    if (!res.ok) return;
    const page = await res.json();
    page.visits.forEach(function (v) {
      const tr = body.insertRow();
      [new Date(v.at).toLocaleString(), v.code, v.referrer, v.browser, v.os, v.device + (v.bot ? ' (bot)' : ''), v.country]
        .forEach(function (text) { tr.insertCell().textContent = text; });
    });
    if (!body.rows.length) body.insertRow().insertCell().textContent = 'No visits logged yet.';
    nextCursor = page.next_cursor || '';
    $('more').hidden = !nextCursor;
  }

  function show(st, interval) {
    status('');
    $('stats').hidden = false;
    $('total').textContent = st.total.toLocaleString();
    $('humans').textContent = st.humans.toLocaleString();
    $('bots').textContent = st.bots.toLocaleString();
    series(st.series, interval);
    top('referrers', st.top.referrers);
    top('countries', st.top.countries);
    top('browsers', st.top.browsers);
    top('os', st.top.os);
    top('devices', st.top.devices);
  }

  function el(name, attrs) {
    const e = document.createElementNS(svgNS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }

  // A stacked bar per bucket: people below, bots above; it scales to the width.
  function series(buckets, interval) {
    const w = 800, h = 220, pad = 24;
    const max = Math.max(1, ...buckets.map(function (b) { return b.humans + b.bots; }));
    const bw = (w - pad) / Math.max(1, buckets.length);
    const svg = el('svg', { viewBox: '0 0 ' + w + ' ' + (h + pad), role: 'img', 'aria-labelledby': 'series-desc' });
    const desc = el('title', { id: 'series-desc' });
    desc.textContent = buckets.length + ' ' + interval + 's, at most ' + max + ' visits in one';
    svg.append(desc, el('line', { x1: pad, y1: h, x2: w, y2: h, class: 'axis' }));
    const label = el('text', { x: 0, y: 12, class: 'axis-label' });
    label.textContent = String(max);
    svg.append(label);
    buckets.forEach(function (b, i) {
      const x = pad + i * bw + bw * 0.1, bar = bw * 0.8;
      const hh = h * b.humans / max, hb = h * b.bots / max;
      const g = el('g', {});
      const tip = el('title', {});
      const when = new Date(b.start);
      tip.textContent = (interval === 'hour' ? when.toLocaleString() : when.toLocaleDateString()) + ': ' + b.humans + ' people, ' + b.bots + ' bots';
      g.append(tip, el('rect', { x: x, y: h - hh, width: bar, height: hh, class: 'humans' }),
        el('rect', { x: x, y: h - hh - hb, width: bar, height: hb, class: 'bots' }));
      svg.append(g);
    });
    $('series').replaceChildren(svg);
  }

  function top(id, list) {
    const table = $(id);
    table.replaceChildren();
    if (!list.length) {
      const tr = table.insertRow();
      tr.insertCell().textContent = 'No visits yet.';
      return;
    }
    const max = list[0].visits;
    list.forEach(function (c) {
      const tr = table.insertRow();
      tr.insertCell().textContent = c.value;
      const bar = tr.insertCell();
      const svg = el('svg', { viewBox: '0 0 100 10', preserveAspectRatio: 'none', 'aria-hidden': 'true', class: 'bar' });
      svg.append(el('rect', { x: 0, y: 0, width: Math.max(1, 100 * c.visits / max), height: 10, class: 'humans' }));
      bar.append(svg);
      const n = tr.insertCell();
      n.textContent = c.visits.toLocaleString();
      n.className = 'num';
    });
  }

  $('code').textContent = code ? (domain ? domain + '/' : '') + code : 'all links';
  document.title = 'kurz — visits of ' + (code || 'all links');
  $('range').addEventListener('change', load);
  $('more').addEventListener('click', function () { latest(nextCursor); });
  load();
})();
