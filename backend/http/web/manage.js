// The management page: sign in with an API key (kept in sessionStorage,
// sent only as an Authorization header to this site's API), then list,
// search, create, edit and delete links. Everything goes through /api/.
(function () {
  'use strict';
  const storeKey = 'kurz.key';
  const $ = function (id) { return document.getElementById(id); };
  let cursors = [''];   // the cursor of each page seen; the last is the current page's
  let next = '';

  function key() { return sessionStorage.getItem(storeKey) || ''; }

  async function api(method, path, body) {
    const headers = { 'Authorization': 'Bearer ' + key(), 'Accept': 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res;
    try {
      res = await fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      return { status: 0, message: 'Cannot reach the shortener. Check your connection and try again.' };
    }
    let json = null;
    try { json = await res.json(); } catch (e) { /* 204, or not JSON */ }
    let message = '';
    if (res.status === 429) {
      message = 'Too many requests: wait ' + (res.headers.get('Retry-After') || '1') + ' s and try again.';
    } else if (res.status >= 500) {
      message = 'The shortener is unavailable right now. Please try again in a moment.';
    } else if (!res.ok) {
      message = sentence(json && json.error && json.error.message);
    }
    return { status: res.status, body: json, message: message };
  }

  function sentence(text) {
    text = String(text || 'That did not work').trim();
    text = text.charAt(0).toUpperCase() + text.slice(1);
    return /[.!?]$/.test(text) ? text : text + '.';
  }

  function tagList(text) { return text.split(',').map(function (t) { return t.trim(); }).filter(Boolean); }
  function isoOrNull(local) { return local ? new Date(local).toISOString() : null; }
  function localValue(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    const pad = function (n) { return String(n).padStart(2, '0'); };
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + 'T' + pad(d.getHours()) + ':' + pad(d.getMinutes());
  }

  // Signing in checks the key against the API before keeping it.
  async function signIn(candidate) {
    sessionStorage.setItem(storeKey, candidate);
    const res = await api('GET', '/api/key');
    if (res.status !== 200) {
      sessionStorage.removeItem(storeKey);
      $('signin-error').textContent = res.status === 401 ? 'That key is not valid, or it was revoked.' : res.message;
      $('key').setAttribute('aria-invalid', 'true');
      $('key').focus();
      return;
    }
    $('signin-error').textContent = '';
    $('key').removeAttribute('aria-invalid');
    $('key').value = '';
    $('who').textContent = res.body.role === 'admin'
      ? 'Signed in with an admin key: every link.'
      : 'Signed in with an author key: the links created with it.';
    $('status-link').hidden = res.body.role !== 'admin';
    $('signin').hidden = true;
    $('app').hidden = false;
    cursors = [''];
    await domains();
    await load();
    $('c-url').focus();
  }

  // domains fills the create form's choice of short domain (hidden with one).
  async function domains() {
    const res = await api('GET', '/api/domains');
    const list = (res.status === 200 && res.body.domains) || [];
    const select = $('c-domain');
    select.replaceChildren.apply(select, list.map(function (d) {
      const o = document.createElement('option');
      o.value = d.default ? '' : d.domain;
      o.textContent = d.domain;
      return o;
    }));
    $('c-domain-field').hidden = list.length < 2;
  }

  function signOut() {
    sessionStorage.removeItem(storeKey);
    $('app').hidden = true;
    $('signin').hidden = false;
    $('links').querySelector('tbody').replaceChildren();
    $('key').focus();
  }

  async function load() {
    const q = $('q').value.trim(), tag = $('tag').value.trim(), order = $('order').value;
    const cursor = cursors[cursors.length - 1];
    const res = await api('GET', '/api/links?limit=20&order=' + order + (q ? '&q=' + encodeURIComponent(q) : '') +
      (tag ? '&tag=' + encodeURIComponent(tag) : '') + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
    if (res.status === 401) { signOut(); $('signin-error').textContent = 'Your key is no longer valid.'; return; }
    if (res.status !== 200) { $('list-status').textContent = res.message; return; }
    const links = res.body.links || [];
    next = res.body.next_cursor || '';
    $('prev').disabled = cursors.length < 2;
    $('next').disabled = !next;
    $('list-status').textContent = links.length ? '' : (q || tag ? 'No link matches.' : 'No links yet.');
    const rows = links.map(row);
    $('links').querySelector('tbody').replaceChildren.apply($('links').querySelector('tbody'), rows);
  }

  function cell(label, content) {
    const td = document.createElement('td');
    td.dataset.label = label;
    if (typeof content === 'string') td.textContent = content; else td.append(content);
    return td;
  }

  function button(text, label, onClick) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'secondary small';
    b.textContent = text;
    b.setAttribute('aria-label', label);
    b.addEventListener('click', onClick);
    return b;
  }

  // linkPath is a link's API path; one on another short domain names it.
  function linkPath(link) {
    return '/api/links/' + encodeURIComponent(link.short_code) + (link.domain ? '?domain=' + encodeURIComponent(link.domain) : '');
  }

  function row(link) {
    const tr = document.createElement('tr');
    tr.dataset.code = link.short_code;
    if (link.domain) tr.dataset.domain = link.domain;
    const a = document.createElement('a');
    a.href = link.short_url;
    a.textContent = link.domain ? link.domain + '/' + link.short_code : link.short_code;
    const options = [];
    if (link.expires_at) options.push('expires ' + new Date(link.expires_at).toLocaleString());
    if (link.max_visits) options.push('at most ' + link.max_visits + ' visits');
    if (link.redirect) options.push(String(link.redirect));
    if (link.valid_since) options.push('from ' + new Date(link.valid_since).toLocaleString());
    if (link.forward_query) options.push('forwards queries');
    if (link.crawlable) options.push('crawlable');
    if (link.tags) options.push('tags: ' + link.tags.join(', '));
    const actions = document.createElement('div');
    actions.className = 'actions';
    const code = link.short_code;
    actions.append(
      button('Copy', 'Copy the short link ' + code, async function (event) {
        try { await navigator.clipboard.writeText(link.short_url); event.target.textContent = 'Copied'; }
        catch (e) { event.target.textContent = 'Select and copy'; }
        setTimeout(function () { event.target.textContent = 'Copy'; }, 2000);
      }),
      qrLink(link),
      statsLink(link),
      button('Edit', 'Edit ' + code, function () { openEdit(link); }),
      button('Delete', 'Delete ' + code, function () { remove(link); })
    );
    if (!link.domain) { // drawn from the SVG of this origin: not for another domain's
      actions.insertBefore(button('PNG 1024', 'QR code of ' + code + ' as a 1024-pixel PNG', function () { downloadPNG(code, 1024); }), actions.children[2]);
      actions.insertBefore(button('PNG 256', 'QR code of ' + code + ' as a 256-pixel PNG', function () { downloadPNG(code, 256); }), actions.children[2]);
    }
    const target = document.createElement('span');
    target.textContent = link.original_url;
    if (link.title) {
      const title = document.createElement('strong');
      title.textContent = link.title;
      target.prepend(title, document.createElement('br'));
    }
    tr.append(cell('Short link', a), cell('Long URL', target), cell('Visits', String(link.access_count || 0)),
      cell('Options', options.join(', ') || '—'), cell('Actions', actions));
    return tr;
  }

  function statsLink(link) {
    const code = link.short_code;
    const a = document.createElement('a');
    a.href = '/manage/stats?code=' + encodeURIComponent(code) + (link.domain ? '&domain=' + encodeURIComponent(link.domain) : '');
    a.className = 'button small';
    a.textContent = 'Stats';
    a.setAttribute('aria-label', 'Visits of ' + code);
    return a;
  }

  function qrLink(link) {
    const code = link.short_code;
    const a = document.createElement('a');
    a.href = link.domain ? link.short_url + '/qr' : '/' + encodeURIComponent(code) + '/qr';
    a.download = code + '.svg';
    a.className = 'button secondary small';
    a.textContent = 'SVG';
    a.setAttribute('aria-label', 'QR code of ' + code + ' as SVG');
    return a;
  }

  // The PNG is drawn from the SVG in the browser: the server keeps one format.
  function downloadPNG(code, size) {
    const img = new Image();
    img.onload = function () {
      const canvas = document.createElement('canvas');
      canvas.width = canvas.height = size;
      const ctx = canvas.getContext('2d');
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(img, 0, 0, size, size);
      canvas.toBlob(function (blob) {
        const a = document.createElement('a');
        a.href = URL.createObjectURL(blob);
        a.download = code + '-' + size + '.png';
        a.click();
        setTimeout(function () { URL.revokeObjectURL(a.href); }, 1000);
      }, 'image/png');
    };
    img.src = '/' + encodeURIComponent(code) + '/qr';
  }

  async function create(event) {
    event.preventDefault();
    const body = { url: $('c-url').value.trim() };
    if ($('c-alias').value.trim()) body.alias = $('c-alias').value.trim();
    if ($('c-expires').value) body.expires_at = isoOrNull($('c-expires').value);
    if ($('c-max').value) body.max_visits = Number($('c-max').value);
    if ($('c-redirect').value) body.redirect = Number($('c-redirect').value);
    if ($('c-title').value.trim()) body.title = $('c-title').value.trim();
    if (tagList($('c-tags').value).length) body.tags = tagList($('c-tags').value);
    if ($('c-since').value) body.valid_since = isoOrNull($('c-since').value);
    if ($('c-forward').checked) body.forward_query = true;
    if ($('c-crawlable').checked) body.crawlable = true;
    if ($('c-domain').value) body.domain = $('c-domain').value;
    const res = await api('POST', '/api/shorten', body);
    if (res.status !== 200 && res.status !== 201) {
      $('create-status').textContent = res.message;
      $('create-status').className = 'status error';
      return;
    }
    $('create-status').className = 'status';
    $('create-status').textContent = (res.status === 201 ? 'Created ' : 'This URL has a link already: ') + res.body.short_url;
    $('create').reset();
    cursors = [''];
    await load();
  }

  let editing = null;
  function openEdit(link) {
    editing = link;
    $('e-code').textContent = link.short_code;
    $('e-url').value = link.original_url;
    $('e-expires').value = localValue(link.expires_at);
    $('e-max').value = link.max_visits || '';
    $('e-redirect').value = link.redirect && link.redirect !== 301 ? String(link.redirect) : '';
    $('e-title').value = link.title || '';
    $('e-tags').value = (link.tags || []).join(', ');
    $('e-since').value = localValue(link.valid_since);
    $('e-forward').checked = !!link.forward_query;
    $('e-crawlable').checked = !!link.crawlable;
    $('edit-error').textContent = '';
    $('edit').showModal();
    $('e-url').focus();
  }

  async function saveEdit(event) {
    event.preventDefault();
    const body = {
      url: $('e-url').value.trim(),
      expires_at: isoOrNull($('e-expires').value),
      max_visits: $('e-max').value ? Number($('e-max').value) : null,
      redirect: $('e-redirect').value ? Number($('e-redirect').value) : null,
      title: $('e-title').value.trim(),
      tags: tagList($('e-tags').value),
      valid_since: isoOrNull($('e-since').value),
      forward_query: $('e-forward').checked,
      crawlable: $('e-crawlable').checked
    };
    const res = await api('PATCH', linkPath(editing), body);
    if (res.status !== 200) { $('edit-error').textContent = res.message; return; }
    $('edit').close();
    await load();
  }

  async function remove(link) {
    const code = link.domain ? link.domain + '/' + link.short_code : link.short_code;
    if (!confirm('Delete ' + code + '? Its short link stops working for everyone.')) return;
    const res = await api('DELETE', linkPath(link));
    await load(); // then say what happened, over what the list says
    $('list-status').textContent = res.status === 204 ? 'Deleted ' + code + '.' : res.message;
  }

  $('signin').addEventListener('submit', function (event) { event.preventDefault(); signIn($('key').value.trim()); });
  $('signout').addEventListener('click', signOut);
  $('create').addEventListener('submit', create);
  $('search').addEventListener('submit', function (event) { event.preventDefault(); cursors = ['']; load(); });
  $('next').addEventListener('click', function () { cursors.push(next); load(); });
  $('prev').addEventListener('click', function () { cursors.pop(); load(); });
  $('edit-form').addEventListener('submit', saveEdit);
  $('e-cancel').addEventListener('click', function () { $('edit').close(); });
  if (key()) signIn(key()); else $('key').focus();
})();
