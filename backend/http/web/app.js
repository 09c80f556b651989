// Progressive enhancement: without JavaScript the form posts to / and the
// server renders the result; with it, the API is called and errors are shown
// next to the field in plain words.
(function () {
  const form = document.getElementById('shorten-form');
  if (!form) return;
  const input = document.getElementById('url');
  const error = document.getElementById('url-error');
  const button = document.getElementById('shorten');
  const result = document.getElementById('result');
  const shortLink = document.getElementById('short-url');
  const copy = document.getElementById('copy');
  const suggestion = document.getElementById('suggestion');
  const suggestedURL = suggestion.querySelector('input[name=url]');

  // A link typed without its scheme (example.com): offer the https one; the API stays strict.
  function offer(url) {
    if (url.indexOf('://') >= 0 || /\s/.test(url) || url.indexOf('.') < 0 || /^[a-z]+:/i.test(url)) return;
    suggestedURL.value = 'https://' + url;
    document.getElementById('suggested-url').textContent = suggestedURL.value;
    suggestion.hidden = false;
  }

  suggestion.addEventListener('submit', function (event) {
    event.preventDefault();
    input.value = suggestedURL.value;
    suggestion.hidden = true;
    form.requestSubmit();
  });

  function showError(message) {
    error.textContent = message;
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }

  function clearError() {
    error.textContent = '';
    input.removeAttribute('aria-invalid');
    suggestion.hidden = true;
  }

  function sentence(text) {
    text = String(text || '').trim();
    if (!text) return 'That link cannot be shortened.';
    text = text.charAt(0).toUpperCase() + text.slice(1);
    return /[.!?]$/.test(text) ? text : text + '.';
  }

  function showResult(link) {
    shortLink.href = link.short_url;
    shortLink.textContent = link.short_url;
    document.getElementById('original-url').textContent = link.original_url;
    document.getElementById('qr').src = '/' + encodeURIComponent(link.short_code) + '/qr';
    result.hidden = false;
  }

  if (navigator.clipboard) {
    copy.hidden = false;
    copy.addEventListener('click', async function () {
      try {
        await navigator.clipboard.writeText(shortLink.href);
        copy.textContent = 'Copied!';
      } catch (e) {
        copy.textContent = 'Press Ctrl+C to copy';
      }
      setTimeout(function () { copy.textContent = 'Copy'; }, 2000);
    });
  }

  form.addEventListener('submit', async function (event) {
    event.preventDefault();
    clearError();
    const url = input.value.trim();
    if (!url) {
      showError('Please paste a link first.');
      return;
    }
    button.disabled = true;
    try {
      const res = await fetch('/api/shorten', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
        body: JSON.stringify({ url: url })
      });
      let body = null;
      try { body = await res.json(); } catch (e) { /* not JSON: a proxy error */ }
      if (res.ok && body) {
        showResult(body);
      } else if (res.status === 429) {
        const wait = parseInt(res.headers.get('Retry-After') || '1', 10) || 1;
        showError('Too many links at once. Please wait ' + wait + ' second' + (wait === 1 ? '' : 's') + ' and try again.');
      } else if (res.status >= 500) {
        showError('The shortener is unavailable right now. Please try again in a moment.');
      } else {
        showError(sentence(body && body.error && body.error.message));
        if (body && body.error && body.error.code === 'invalid_url') offer(url);
      }
    } catch (e) {
      showError('Cannot reach the shortener. Check your connection and try again.');
    } finally {
      button.disabled = false;
    }
  });
})();
