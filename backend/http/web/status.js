// The operator's status (/manage/status, admins): every edge's hit ratio,
// Redis latency and breaker, the fold lag and the dependencies, from
// /api/status with the key of the management page's sign-in.
(function () {
  'use strict';
  const $ = function (id) { return document.getElementById(id); };
  function status(text) { $('status').textContent = text; }
  function percent(r) { return (r * 100).toFixed(1) + ' %'; }
  function ms(v) { return v < 1 ? v.toFixed(2) + ' ms' : v.toFixed(1) + ' ms'; }
  function seconds(s) { return s < 1 ? 'none' : Math.round(s) + ' s'; }
  function ago(iso, now) {
    const s = Math.max(0, Math.round((now - new Date(iso)) / 1000));
    return s === 0 ? 'just now' : s + ' s ago';
  }
  function dep(el, d) {
    el.textContent = d.ok ? 'answering' : 'failing: ' + d.error;
    el.className = d.ok ? 'ok' : 'error';
  }

  async function load() {
    const key = sessionStorage.getItem('kurz.key') || '';
    if (!key) { status('Sign in on the management page first.'); return; }
    let res;
    try {
      res = await fetch('/api/status', { headers: { 'Authorization': 'Bearer ' + key, 'Accept': 'application/json' } });
    } catch (e) { status('Cannot reach the shortener. Check your connection; this page tries again.'); return; }
    if (res.status === 401) { status('Your key is not valid any more: sign in again on the management page.'); return; }
    if (res.status === 403) { status('The status needs an admin key.'); return; }
    if (!res.ok) { status('The status is unavailable right now; this page tries again.'); return; }
    show(await res.json());
  }

  function show(st) {
    status('');
    $('view').hidden = false;
    const now = new Date(st.at);
    $('updated').textContent = 'as of ' + now.toLocaleTimeString();
    dep($('postgres'), st.postgres);
    dep($('redis'), st.redis);
    $('visits').textContent = st.visits.stream_length + ' of at most ' + st.visits.stream_cap + ' batches';
    $('foldlag').textContent = seconds(st.visits.fold_lag_seconds);
    $('outbox').textContent = st.outbox.backlog === 0 ? 'none' : st.outbox.backlog + ' (oldest ' + seconds(st.outbox.oldest_seconds) + ')';
    const body = $('edges').tBodies[0];
    const labels = Array.from($('edges').tHead.rows[0].cells).map(function (c) { return c.textContent; });
    body.replaceChildren();
    st.edges.forEach(function (e) {
      const tr = document.createElement('tr');
      tr.dataset.edge = e.name;
      [e.name, percent(e.hit_ratio) + ' (' + e.answered.toLocaleString() + ' answered, ' + e.passed.toLocaleString() + ' passed on)',
        percent(e.hot_ratio), ms(e.redis_p50_ms) + ' / ' + ms(e.redis_p99_ms),
        e.breaker_open ? 'open' : 'closed', ago(e.last_publish, now)].forEach(function (text, i) {
        const td = document.createElement('td');
        td.dataset.label = labels[i]; // the cell's name on a phone, where each edge is a card
        td.textContent = text;
        if (i === 4) td.className = e.breaker_open ? 'error' : 'ok';
        tr.append(td);
      });
      body.append(tr);
    });
    $('no-edges').hidden = st.edges.length > 0;
  }

  load();
  setInterval(load, 5000);
})();
