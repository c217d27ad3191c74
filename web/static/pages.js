// mxlab web UI: the pages. <body data-page> says which one to draw.
'use strict';

(() => {
  const { el, api, href } = MX;

  // ---- / : the live session list, the scenarios, the messages ----

  async function sessionsPage() {
    document.title = 'mxlab: sessions';
    const rows = new Map(); // id -> {rec, active}
    const tbody = el('tbody', { id: 'sessions-body' });
    const empty = el('p', { class: 'empty', id: 'sessions-empty' }, 'No session yet. Point a client at one of the scenarios below; its session appears here as it happens.');
    const msgBody = el('tbody', { id: 'messages-body' });
    const scenBody = el('tbody', { id: 'scenarios-body' });
    MX.setMain(
      el('section', { id: 'sessions' },
        el('h1', null, 'Sessions'),
        el('table', { class: 'list' },
          el('thead', null, el('tr', null, ['Session', 'Started', 'Scenario', 'Client', 'SNI', 'Outcome', 'Commands'].map((h) => el('th', null, h)))),
          tbody),
        empty),
      el('section', { id: 'scenarios' },
        el('h2', null, 'Scenarios'),
        el('table', { class: 'list' },
          el('thead', null, el('tr', null, ['Scenario', 'What it does', 'SMTP', 'MX'].map((h) => el('th', null, h)))),
          scenBody)),
      el('section', { id: 'messages' },
        el('h2', null, 'Messages'),
        el('table', { class: 'list' },
          el('thead', null, el('tr', null, ['Received', 'Subject', 'From', 'To', 'Size', 'Session'].map((h) => el('th', null, h)))),
          msgBody)));

    const num = (id) => parseInt(String(id).replace(/\D/g, ''), 10) || 0;
    const draw = () => {
      const list = [...rows.values()].sort((a, b) => num(b.rec.id) - num(a.rec.id));
      tbody.replaceChildren(...list.map(({ rec, active }) => sessionRow(rec, active)));
      empty.hidden = list.length > 0;
    };
    const upsert = (rec, active) => {
      if (!rec || !rec.id) return;
      const old = rows.get(rec.id);
      // An ended record is final: a late session-start never hides it.
      if (old && !old.active && active) return;
      rows.set(rec.id, { rec, active });
      draw();
    };

    const loadMessages = async () => {
      try {
        const { messages } = await api('/api/v1/messages');
        msgBody.replaceChildren(...(messages || []).map(messageRow));
        if (!(messages || []).length) msgBody.appendChild(el('tr', null, el('td', { colspan: 6, class: 'empty' }, 'No message yet.')));
      } catch (e) {
        msgBody.replaceChildren(el('tr', null, el('td', { colspan: 6, class: 'error' }, e.message)));
      }
    };

    // The stream opens before the list is read, so that no session that
    // ends in between is missed; upsert merges both.
    MX.events('', {
      'session-start': (d) => upsert(d.record || { id: d.session, scenario: d.scenario }, true),
      'session-end': (d) => {
        upsert(d.record, false);
        if (d.record && (d.record.messages || []).length) loadMessages();
      },
    }, MX.liveIndicator);

    try {
      const { sessions } = await api('/api/v1/sessions?limit=200');
      for (const rec of sessions || []) upsert(rec, false);
      draw();
    } catch (e) {
      empty.hidden = false;
      empty.className = 'error';
      empty.textContent = 'Cannot list sessions: ' + e.message;
    }
    try {
      const { scenarios } = await api('/api/v1/scenarios');
      scenBody.replaceChildren(...(scenarios || []).map((s) => el('tr', null,
        el('td', null, el('a', { href: href.scenario(s.name) }, s.name)),
        el('td', null, s.title || s.summary || ''),
        el('td', { class: 'mono' }, s.smtp || ''),
        el('td', { class: 'mono' }, s.mx || ''))));
    } catch (e) {
      scenBody.replaceChildren(el('tr', null, el('td', { colspan: 4, class: 'error' }, e.message)));
    }
    loadMessages();
    if (location.hash) {
      const target = document.getElementById(location.hash.slice(1));
      if (target) target.scrollIntoView();
    }
  }

  function sessionRow(rec, active) {
    const o = MX.outcome(rec, active);
    const sni = MX.sni(rec);
    return el('tr', { class: ['session', o.cls], 'data-id': rec.id },
      el('td', null, el('a', { href: href.session(rec.id) }, rec.id)),
      el('td', null, MX.time(rec.started)),
      el('td', null, rec.scenario ? el('a', { href: href.scenario(rec.scenario) }, rec.scenario) : '', rec.via ? el('small', null, ' via ' + rec.via) : null),
      el('td', { class: 'mono addr' }, rec.remote || ''),
      el('td', { class: 'mono sni' }, sni === null ? '' : (sni === '' ? el('em', null, 'no SNI') : sni)),
      el('td', { class: 'outcome' }, o.text),
      el('td', { class: 'mono' }, rec.counts || ''));
  }

  function messageRow(m) {
    return el('tr', null,
      el('td', null, MX.time(m.received)),
      el('td', null, el('a', { href: href.message(m.id) }, m.subject || '(no subject)')),
      el('td', { class: 'mono' }, m.from || '<>'),
      el('td', { class: 'mono' }, (m.to || []).join(', ')),
      el('td', null, String(m.size)),
      el('td', null, m.session ? el('a', { href: href.session(m.session) }, m.session) : ''));
  }

  // ---- /sessions/{id}: verdict, ladder, raw transcript ----

  async function sessionPage() {
    const id = MX.pathArg();
    document.title = 'mxlab: ' + id;
    let alerts = {};
    try { alerts = await api('/static/alerts.json'); } catch (e) { /* the ladder names alerts without the sentence */ }
    let busy = false;
    let again = false;
    let es = null;
    const load = async () => {
      if (busy) { again = true; return; }
      busy = true;
      try {
        const detail = await api('/api/v1/sessions/' + encodeURIComponent(id));
        drawSession(id, detail, alerts);
        if (!detail.active && es) { es.close(); es = null; document.getElementById('live').hidden = true; }
        return detail;
      } catch (e) {
        MX.showError(e);
      } finally {
        busy = false;
        if (again) { again = false; load(); }
      }
    };
    const first = await load();
    if (first && first.active) {
      // A running session: redraw as its steps arrive.
      const mine = (d) => { if (d.session === id) load(); };
      es = MX.events(first.record && first.record.scenario ? '?scenario=' + encodeURIComponent(first.record.scenario) : '',
        { 'session-step': mine, 'session-end': mine }, MX.liveIndicator);
      load(); // a step between the first read and the stream
    }
  }

  function drawSession(id, detail, alerts) {
    const m = MX.ladder.model(detail, alerts);
    const rec = m.rec;
    const o = MX.outcome(rec, m.active);
    document.title = 'mxlab: ' + id + ' ' + (rec.scenario || '') + ' ' + o.text;

    // The verdict comes first: a learner sees what failed before anything else.
    let verdict;
    const lesson = rec.scenario ? el('a', { class: 'lesson', href: href.scenario(rec.scenario) }, 'Lesson: ' + rec.scenario + ' →') : null;
    if (m.failure) {
      verdict = el('section', { class: 'verdict fail', id: 'verdict', role: 'alert' },
        el('h1', null, '✖ Failed at step ' + (m.failure.step ? m.failure.step.n : '?') + ': ' + m.failure.title),
        el('p', { class: 'sentence' }, m.failure.sentence),
        sniLine(rec),
        el('p', null, m.failure.step ? el('a', { href: '#fail' }, 'Show the step') : null, lesson ? ' · ' : null, lesson));
    } else if (m.active) {
      verdict = el('section', { class: 'verdict run', id: 'verdict' },
        el('h1', null, '● Session ' + id + ' is running'), sniLine(rec), el('p', null, lesson));
    } else {
      const what = rec.tls ? 'TLS ' + rec.tls.version.replace(/^TLS /, '') + ' ' + rec.tls.cipher : 'plaintext (no TLS)';
      const msgs = (rec.messages || []).length;
      verdict = el('section', { class: ['verdict', rec.tls ? 'ok' : 'plain'], id: 'verdict' },
        el('h1', null, (rec.tls ? '✔ Completed over ' : '✔ Completed in ') + what),
        el('p', { class: 'sentence' }, msgs ? msgs + (msgs === 1 ? ' message' : ' messages') + ' delivered.' : 'No message delivered.', ' Ended: ' + (rec.end_reason || '?') + '.'),
        sniLine(rec),
        el('p', null, lesson));
    }

    const facts = el('dl', { class: 'facts' },
      fact('Session', id),
      fact('Scenario', rec.scenario ? el('a', { href: href.scenario(rec.scenario) }, rec.scenario) : '', rec.via ? ' via ' + rec.via : ''),
      fact('Client', rec.remote),
      fact('Server', rec.local),
      fact('Started', MX.time(rec.started)),
      rec.ended ? fact('Ended', MX.time(rec.ended), ' (' + (rec.end_reason || '') + ')') : null,
      rec.tls ? fact('TLS', rec.tls.version + ' ' + rec.tls.cipher) : null,
      rec.counts ? fact('Counts', rec.counts) : null,
      rec.auth ? fact('AUTH', rec.auth.mechanism + ' ' + rec.auth.username + (rec.auth.success ? ' (ok)' : ' (failed)')) : null,
      (rec.messages || []).length ? fact('Messages', rec.messages.map((mid, i) => [i ? ', ' : '', el('a', { href: href.message(mid) }, mid)])) : null,
      rec.legacy_server_would ? fact('Older server would', rec.legacy_server_would.action + ' ' + (rec.legacy_server_would.cipher || '') + ': ' + (rec.legacy_server_would.why || '')) : null,
      (rec.notes || []).length ? fact('Notes', rec.notes.join('; ')) : null);

    const raw = rawTranscript(detail);
    const ladder = MX.ladder.render(m);
    ladder.addEventListener('click', (ev) => {
      const li = ev.target.closest('li.step');
      if (!li) return;
      const seqs = new Set((li.dataset.seqs || '').split(' '));
      for (const r of raw.querySelectorAll('li')) r.classList.toggle('hl', seqs.has(r.dataset.seq));
      const firstRaw = raw.querySelector('li.hl');
      if (firstRaw) firstRaw.scrollIntoView({ block: 'nearest' });
    });

    MX.setMain(verdict,
      el('div', { class: 'session-grid' },
        el('section', { class: 'ladder-col', 'aria-label': 'ladder diagram' }, el('h2', null, 'Ladder'), ladder),
        el('section', { class: 'raw-col', 'aria-label': 'raw transcript' },
          el('h2', null, 'Transcript', m.truncated ? el('small', { class: 'warn' }, ' (cut at its bound)') : null,
            el('small', { class: 'muted' }, ' (C client, S server, * inside TLS; click a step to find its lines)')),
          raw)),
      el('details', { class: 'facts-box', open: true }, el('summary', null, 'Record'), facts));
  }

  function sniLine(rec) {
    const s = MX.sni(rec);
    if (s === null) return null;
    return el('p', { class: 'sni-line' }, 'The client sent ', s === '' ? el('strong', null, 'no SNI') : ['SNI ', el('code', { class: 'sni' }, s)], '.');
  }

  function fact(name, ...value) {
    return [el('dt', null, name), el('dd', null, value)];
  }

  function rawTranscript(detail) {
    const events = (detail.transcript && detail.transcript.events) || [];
    const t0 = events.length ? new Date(events[0].at).getTime() : 0;
    const who = { client: 'C', server: 'S', lab: '#' };
    const list = el('ol', { class: 'raw', id: 'raw' });
    for (const ev of events) {
      const ms = ev.at ? Math.max(0, new Date(ev.at).getTime() - t0) : 0;
      let text = ev.text || '';
      if (ev.kind === 'tls-record' && ev.record) {
        const r = ev.record;
        text = '[TLS ' + MX.ladder.recordLabel(r) + ', ' + r.type + ' ' + r.version + ', ' + r.length + ' bytes]';
      } else if (ev.kind === 'tls-established') {
        text = '[TLS established: ' + (ev.text || '') + (ev.sni ? ', SNI ' + ev.sni : ', no SNI') + ']';
      } else if (ev.kind === 'body') {
        text = '[message data: ' + (ev.text || ev.size + ' bytes') + ']';
      } else if (ev.kind === 'close') {
        text = '[close: ' + text + ']';
      } else if (ev.kind === 'note') {
        text = '[' + text + ']';
      }
      list.appendChild(el('li', { class: ['ev', ev.from, ev.kind, ev.tls ? 'in-tls' : null], 'data-seq': String(ev.seq) },
        el('span', { class: 'at' }, '+' + ms + 'ms'),
        el('span', { class: 'from', title: ev.tls ? 'sent inside TLS' : null }, (who[ev.from] || ev.from) + (ev.tls ? '*' : ':')),
        el('span', { class: 'txt' }, text)));
    }
    if (!detail.transcript) list.appendChild(el('li', { class: 'ev lab' }, 'No transcript is kept for this session (only the newest sessions keep one).'));
    return list;
  }

  // ---- /scenarios/{name}: the lesson ----

  async function scenarioPage() {
    const name = MX.pathArg();
    document.title = 'mxlab: ' + name;
    let s;
    try { s = await api('/api/v1/scenarios/' + encodeURIComponent(name)); } catch (e) { MX.showError(e); return; }
    document.title = 'mxlab: ' + s.name + ': ' + (s.title || '');
    const tlsa = (s.tlsa || []).map((t) => el('div', { class: 'mono' }, t.owner + ' TLSA ' + t.rdata));
    const recent = el('tbody', null);
    MX.setMain(
      el('article', { class: 'lesson' },
        el('h1', null, s.name, s.title ? ': ' + s.title : ''),
        s.summary ? el('p', { class: 'summary' }, s.summary) : null,
        el('dl', { class: 'facts' },
          fact('Imitates', s.imitates || ''), fact('Kind', s.kind || ''),
          fact('Domain', s.domain || ''), fact('MX', el('code', null, s.mx || '')), fact('Host', s.host || ''),
          fact('SMTP', el('code', null, s.smtp || '')),
          fact('DNS', s.dns_authenticated ? 'DNSSEC-authenticated (AD bit)' : 'unsigned'),
          tlsa.length ? fact('TLSA', tlsa) : null),
        section('Why only some senders fail', s.why),
        section('The incident', s.incident),
        section('The lesson', s.lesson),
        section('The fix', s.fix),
        (s.sources || []).length ? el('section', null, el('h2', null, 'Sources'),
          el('ul', null, s.sources.map((u) => el('li', null, /^https?:\/\//.test(u) ? el('a', { href: u, rel: 'noopener noreferrer' }, u) : u)))) : null,
        el('section', null, el('h2', null, 'Recent sessions'),
          el('table', { class: 'list' },
            el('thead', null, el('tr', null, ['Session', 'Started', 'Scenario', 'Client', 'SNI', 'Outcome', 'Commands'].map((h) => el('th', null, h)))),
            recent))));
    try {
      const { sessions } = await api('/api/v1/sessions?limit=20&scenario=' + encodeURIComponent(s.name));
      recent.replaceChildren(...(sessions || []).map((r) => sessionRow(r, false)));
      if (!(sessions || []).length) recent.appendChild(el('tr', null, el('td', { colspan: 7, class: 'empty' }, 'None yet.')));
    } catch (e) {
      recent.replaceChildren(el('tr', null, el('td', { colspan: 7, class: 'error' }, e.message)));
    }
  }

  // section shows a text of the catalogue, a paragraph per blank-line block.
  function section(title, text) {
    if (!text) return null;
    return el('section', null, el('h2', null, title),
      String(text).split(/\n\s*\n/).map((p) => el('p', null, p.trim())));
  }

  // ---- /messages/{id}: envelope, headers, body, all as text ----

  async function messagePage() {
    const id = MX.pathArg();
    document.title = 'mxlab: message';
    let m;
    let raw = '';
    try {
      m = await api('/api/v1/messages/' + encodeURIComponent(id));
      raw = await api('/api/v1/messages/' + encodeURIComponent(id) + '/raw', { text: true });
    } catch (e) { MX.showError(e); return; }
    document.title = 'mxlab: ' + (m.subject || m.id);
    // The body is what follows the first empty line of the stored message.
    const sep = raw.search(/\r?\n\r?\n/);
    const body = sep >= 0 ? raw.slice(sep).replace(/^\r?\n\r?\n/, '') : '';
    MX.setMain(el('article', { class: 'message' },
      el('h1', null, m.subject || '(no subject)'),
      el('dl', { class: 'facts' },
        fact('From', el('code', null, m.from || '<>')),
        fact('To', el('code', null, (m.to || []).join(', '))),
        fact('Received', MX.time(m.received)),
        fact('Size', m.size + ' bytes'),
        fact('Session', m.session ? el('a', { href: href.session(m.session) }, m.session) : ''),
        fact('Scenario', m.scenario ? el('a', { href: href.scenario(m.scenario) }, m.scenario) : ''),
        fact('Raw', el('a', {
          href: '/api/v1/messages/' + encodeURIComponent(m.id) + '/raw',
          // With a token, the link could not send it: save what the
          // page fetched with it instead.
          on: { click: (ev) => { if (MX.hasToken()) { ev.preventDefault(); MX.download(raw, m.id + '.eml', 'message/rfc822'); } } },
        }, m.id + '.eml'))),
      el('h2', null, 'Headers'),
      el('table', { class: 'headers' }, el('tbody', null, (m.headers || []).map((h) => el('tr', null, el('th', null, h.name), el('td', null, h.value))))),
      el('h2', null, 'Body'),
      el('pre', { class: 'body', id: 'body' }, body)));
  }

  // ---- /tlsrpt: the TLS-RPT reports (RFC 8460) the lab received ----

  async function tlsrptPage() {
    document.title = 'mxlab: TLS reports';
    let reports;
    try { ({ reports } = await api('/api/v1/tlsrpt')); } catch (e) { MX.showError(e); return; }
    reports = reports || [];
    MX.setMain(el('section', { id: 'tlsrpt' },
      el('h1', null, 'TLS reports'),
      el('p', { class: 'summary' }, 'The TLS-RPT reports (RFC 8460) senders sent the lab, newest first: per policy, the TLS sessions that succeeded and failed, and why they failed.'),
      reports.length ? reports.map(tlsrptReport) : el('p', { class: 'empty', id: 'tlsrpt-empty' }, 'No report yet.')));
  }

  function tlsrptReport(r) {
    const rep = r.report || {};
    const range = rep['date-range'] || {};
    return el('article', { class: 'tlsrpt', 'data-id': rep['report-id'] || '' },
      el('h2', null, rep['organization-name'] || '(no organization)'),
      el('dl', { class: 'facts' },
        fact('Received', MX.time(r.received), ' via ' + (r.via || '?')),
        fact('Report', el('code', null, rep['report-id'] || '')),
        fact('Covers', (range['start-datetime'] || '?') + ' to ' + (range['end-datetime'] || '?')),
        fact('Contact', rep['contact-info'] || '')),
      el('table', { class: 'list' },
        el('thead', null, el('tr', null, ['Policy domain', 'Policy', 'Successful', 'Failed', 'Failures'].map((h) => el('th', null, h)))),
        el('tbody', null, (rep.policies || []).map((p) => {
          const pol = p.policy || {};
          const sum = p.summary || {};
          return el('tr', { class: 'policy' },
            el('td', { class: 'mono' }, pol['policy-domain'] || ''),
            el('td', null, pol['policy-type'] || '', (pol['policy-string'] || []).length ? el('div', { class: 'mono muted' }, pol['policy-string'].join('; ')) : null),
            el('td', null, String(sum['total-successful-session-count'] ?? '')),
            el('td', null, String(sum['total-failure-session-count'] ?? '')),
            el('td', null, el('ul', { class: 'failures' }, (p['failure-details'] || []).map((f) => el('li', { class: 'failure' },
              el('strong', null, f['result-type'] || ''),
              f['failure-reason-code'] ? ': ' + f['failure-reason-code'] : '',
              ' × ' + (f['failed-session-count'] ?? '?'),
              f['receiving-mx-hostname'] || f['receiving-ip'] ? el('div', { class: 'mono muted' },
                [f['receiving-mx-hostname'], f['receiving-ip']].filter(Boolean).join(' ')) : null)))));
        }))));
  }

  const pages = { sessions: sessionsPage, session: sessionPage, scenario: scenarioPage, message: messagePage, tlsrpt: tlsrptPage };
  const run = pages[document.body.dataset.page];
  if (run) run().catch(MX.showError);
})();
