// mxlab web UI: shared helpers. Plain JavaScript, no framework, no build.
//
// The one rule of this UI: data from the lab (and so from whatever client
// talked to it) becomes DOM text through createTextNode or textContent,
// never markup. el() below is the only way pages build elements; it cannot
// parse HTML, and it only accepts href values that stay on this
// origin or are plain http(s) links.
'use strict';

const MX = (() => {
  // A lab whose API is off loopback needs a token (docs/api.md). The page
  // takes it once from ?token=, keeps it for this tab and takes it out of
  // the address (so it stays out of history and shared links), sends it
  // as a header to fetch, and as ?token= only to EventSource, which cannot
  // set headers (the API reads the parameter on that route alone).
  const params = new URLSearchParams(location.search);
  let token = '';
  try {
    token = params.get('token') || sessionStorage.getItem('mxlab-token') || '';
    if (params.get('token')) sessionStorage.setItem('mxlab-token', token);
  } catch (e) { token = params.get('token') || ''; }
  if (params.has('token')) {
    params.delete('token');
    const q = params.toString();
    history.replaceState(null, '', location.pathname + (q ? '?' + q : '') + location.hash);
  }

  function eventsURL(url) {
    if (!token) return url;
    return url + (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token);
  }

  // download saves text fetched with the token as a file: a plain link
  // to the API could not send the token.
  function download(text, name, type) {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([text], { type }));
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 0);
  }

  class APIError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  // api fetches a JSON route and throws APIError with the API's own
  // message (its error body) when the answer is not 2xx.
  async function api(path, opts = {}) {
    const headers = { Accept: opts.text ? '*/*' : 'application/json' };
    if (token) headers.Authorization = 'Bearer ' + token;
    const resp = await fetch(path, { headers, cache: 'no-store' });
    if (!resp.ok) {
      let msg = resp.status + ' ' + resp.statusText;
      try {
        const body = await resp.json();
        if (body && body.error && body.error.message) msg = body.error.message;
      } catch (e) { /* not JSON: keep the status line */ }
      throw new APIError(resp.status, msg);
    }
    return opts.text ? resp.text() : resp.json();
  }

  // safeHref accepts a path on this origin ("/sessions/s-000001") or an
  // http(s) URL (a lesson's sources); anything else (javascript:, data:)
  // becomes no link at all.
  function safeHref(href) {
    if (typeof href !== 'string') return null;
    if (href.startsWith('/') && !href.startsWith('//')) return href;
    try {
      const u = new URL(href);
      if (u.protocol === 'http:' || u.protocol === 'https:') return u.href;
    } catch (e) { /* not a URL */ }
    return null;
  }

  // el builds an element. attrs: class, id, title, href, hidden, data-*,
  // aria-*, role, colspan; children: strings (as text), numbers, nodes,
  // arrays of them, null/undefined/false (skipped).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') e.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
      else if (k === 'href') {
        const h = safeHref(v);
        if (h !== null) e.setAttribute('href', h);
      } else if (k === 'on') {
        for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
      } else if (['id', 'title', 'hidden', 'open', 'role', 'colspan', 'datetime', 'rel', 'target'].includes(k) ||
                 k.startsWith('data-') || k.startsWith('aria-')) {
        e.setAttribute(k, v === true ? '' : String(v));
      } else {
        throw new Error('el: attribute not allowed: ' + k);
      }
    }
    append(e, children);
    return e;
  }

  function append(parent, children) {
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) append(parent, c);
      else if (c instanceof Node) parent.appendChild(c);
      else parent.appendChild(document.createTextNode(String(c)));
    }
  }

  // Links to the UI's own pages; ids and names are encoded, never pasted.
  const href = {
    session: (id) => '/sessions/' + encodeURIComponent(id),
    scenario: (name) => '/scenarios/' + encodeURIComponent(name),
    message: (id) => '/messages/' + encodeURIComponent(id),
    home: (frag) => '/' + (frag ? '#' + frag : ''),
  };

  // pathArg is the last segment of /kind/{arg}, decoded.
  function pathArg() {
    const parts = location.pathname.split('/');
    try { return decodeURIComponent(parts[parts.length - 1] || ''); } catch (e) { return ''; }
  }

  function setMain(...children) {
    const main = document.getElementById('main');
    main.replaceChildren();
    append(main, children);
  }

  function showError(err) {
    setMain(el('p', { class: 'error', role: 'alert' }, 'Error: ', err.message || String(err)));
  }

  // time formats an RFC 3339 time as local HH:MM:SS.mmm (and the date
  // when it is not today).
  function time(s) {
    if (!s) return '';
    const d = new Date(s);
    if (isNaN(d)) return s;
    const pad = (n, w = 2) => String(n).padStart(w, '0');
    const t = pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()) + '.' + pad(d.getMilliseconds(), 3);
    const today = new Date();
    if (d.toDateString() === today.toDateString()) return t;
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + t;
  }

  function alertName(a) {
    return a ? 'alert ' + a.code + ' ' + a.name : '';
  }

  // outcome says in a few words how a session went, for the list and the
  // page title: the alert, the TLS negotiated, plaintext, or running.
  function outcome(rec, active) {
    if (active) return { cls: 'run', text: 'running' };
    if (!rec) return { cls: '', text: '' };
    if (rec.alert_sent) return { cls: 'fail', text: alertName(rec.alert_sent) + ' (sent)' };
    if (rec.alert_received) return { cls: 'fail', text: alertName(rec.alert_received) + ' (received)' };
    if (rec.tls_error) return { cls: 'fail', text: 'TLS failed' };
    const msgs = (rec.messages || []).length;
    const delivered = msgs ? ', ' + msgs + (msgs === 1 ? ' message' : ' messages') : '';
    if (rec.tls) return { cls: 'ok', text: rec.tls.version + ' ' + rec.tls.cipher + delivered };
    return { cls: 'plain', text: 'plaintext' + delivered };
  }

  // sni returns the SNI a record's ClientHello carried: a string, '' for
  // a ClientHello without SNI, null when there was no ClientHello.
  function sni(rec) {
    const ch = rec && rec.client_hello;
    if (!ch) return rec && rec.tls ? (rec.tls.sni || '') : null;
    return typeof ch.sni === 'string' ? ch.sni : '';
  }

  // events opens the lab's event stream and calls handlers[type](data);
  // onState(open) follows the connection. EventSource reconnects by itself.
  function events(query, handlers, onState) {
    if (typeof EventSource === 'undefined') return null;
    const es = new EventSource(eventsURL('/api/v1/events' + (query || '')));
    for (const [type, fn] of Object.entries(handlers)) {
      es.addEventListener(type, (ev) => {
        let data;
        try { data = JSON.parse(ev.data); } catch (e) { return; }
        fn(data);
      });
    }
    if (onState) {
      es.addEventListener('open', () => onState(true));
      es.addEventListener('error', () => onState(false));
    }
    return es;
  }

  function liveIndicator(open) {
    const live = document.getElementById('live');
    if (!live) return;
    live.hidden = false;
    live.className = 'live ' + (open ? 'on' : 'off');
    live.textContent = open ? '● live' : '○ reconnecting…';
  }

  return { api, APIError, el, append, href, pathArg, setMain, showError, time, alertName, outcome, sni, events, liveIndicator, download, hasToken: () => token !== '' };
})();
