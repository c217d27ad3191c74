// mxlab web UI: the ladder diagram of one session.
//
// model() turns a session's transcript (docs/api.md, Event) into steps:
// one arrow per SMTP command, per reply (a multi-line reply is one arrow),
// per run of TLS records one side sent, plus the handshake's result, the
// lab's notes and the close. It also finds the failing step, so that the
// page can say first what went wrong. render() draws the steps as rows of
// a grid between a client and a server lifeline.
'use strict';

MX.ladder = (() => {
  const { el } = MX;

  const replyLine = /^(\d{3})([ -]?)(.*)$/;

  // versionName turns a ClientHello's version code ("0304") into its
  // name ("TLS 1.3"); names already given pass through.
  const versionNames = { '0304': 'TLS 1.3', '0303': 'TLS 1.2', '0302': 'TLS 1.1', '0301': 'TLS 1.0', '0300': 'SSL 3.0' };
  function versionName(v) {
    const k = String(v).toLowerCase().replace(/^0x/, '');
    return versionNames[k] || String(v);
  }

  // recordLabel names one TLS record as the transcript saw it.
  function recordLabel(r) {
    if (!r) return 'record';
    if (r.alert) return r.alert.level + ' alert ' + r.alert.code + ' ' + r.alert.name;
    if (r.handshake) return r.handshake;
    return r.type || ('type ' + r.type_code);
  }

  // model builds the ladder of a SessionDetail. alerts is
  // /static/alerts.json (number -> {name, server, client}).
  function model(detail, alerts) {
    const rec = detail.record || {};
    const events = (detail.transcript && detail.transcript.events) || [];
    const steps = [];
    let lastCommand = '';
    let sawCommand = false;
    let sawClientHello = false;
    let reply = null; // the server reply being gathered

    const push = (s) => { s.n = steps.length + 1; steps.push(s); return s; };

    const flushReply = () => {
      if (!reply) return;
      const first = reply.lines[0];
      const m = replyLine.exec(first.text);
      const code = m ? m[1] : '';
      const rest = reply.lines.slice(1).map((e) => {
        const mm = replyLine.exec(e.text);
        return mm ? mm[3] : e.text;
      });
      const s = push({
        dir: 's2c', kind: 'reply', code, label: first.text, tls: first.tls,
        seqs: reply.lines.map((e) => e.seq), details: [],
      });
      const verb = lastCommand.split(' ')[0].toUpperCase();
      if (!sawCommand && code === '220') s.role = 'banner';
      else if (verb === 'EHLO' && code === '250') {
        s.role = 'ehlo-reply';
        s.keywords = rest;
      } else if (rest.length) s.details = rest;
      if (verb === 'STARTTLS' && code === '220') s.role = 'starttls-go';
      if (/^[45]/.test(code)) s.bad = true;
      s.replyTo = lastCommand;
      reply = null;
    };

    for (const ev of events) {
      if (ev.kind === 'line' && ev.from === 'server') {
        if (!reply) reply = { lines: [] };
        reply.lines.push(ev);
        // A reply ends at "250 text" or at a line that is no reply line.
        const m = replyLine.exec(ev.text);
        if (!m || m[2] !== '-') flushReply();
        continue;
      }
      flushReply();
      switch (ev.kind) {
        case 'line': {
          if (ev.from === 'client') {
            sawCommand = true;
            lastCommand = ev.text;
            const verb = ev.text.split(' ')[0].toUpperCase();
            push({ dir: 'c2s', kind: 'command', verb, label: ev.text, tls: ev.tls, seqs: [ev.seq], details: [] });
          } else {
            push({ dir: 'note', kind: 'note', label: ev.text, seqs: [ev.seq], details: [] });
          }
          break;
        }
        case 'body':
          push({ dir: 'c2s', kind: 'body', label: 'message data: ' + (ev.text || (ev.size + ' bytes')), tls: ev.tls, seqs: [ev.seq], details: [] });
          break;
        case 'tls-record': {
          const r = ev.record || {};
          const dir = ev.from === 'client' ? 'c2s' : 's2c';
          const prev = steps[steps.length - 1];
          const isHello = r.handshake === 'client_hello' && !sawClientHello;
          // Consecutive records of one side are one arrow, except the
          // first ClientHello and any alert, which get their own.
          if (!isHello && !r.alert && prev && prev.kind === 'tls' && prev.dir === dir && !prev.alert && !prev.hello) {
            prev.records.push(r);
            prev.seqs.push(ev.seq);
            break;
          }
          const s = push({ dir, kind: 'tls', records: [r], seqs: [ev.seq], details: [], tlsPhase: true });
          if (isHello) {
            sawClientHello = true;
            s.hello = true;
            const name = MX.sni(rec);
            s.sni = name;
            const ch = rec.client_hello || {};
            const versions = ch.supported_versions || ch.versions;
            if (Array.isArray(versions) && versions.length) s.details.push('offers ' + versions.map(versionName).join(', '));
          }
          if (r.alert) {
            s.alert = r.alert;
            s.alertFrom = ev.from;
          }
          break;
        }
        case 'tls-established':
          push({ dir: 'both', kind: 'established', label: 'TLS established: ' + (ev.text || ''), sniSeen: ev.sni, seqs: [ev.seq], details: [] });
          break;
        case 'note':
          push({ dir: 'note', kind: 'note', label: ev.text || '', seqs: [ev.seq], details: [] });
          break;
        case 'close':
          push({ dir: ev.from === 'client' ? 'c2s' : 's2c', kind: 'close', label: 'connection closed (' + (ev.text || rec.end_reason || '') + ')', seqs: [ev.seq], details: [] });
          break;
        default:
          push({ dir: 'note', kind: 'note', label: ev.kind + ': ' + (ev.text || ''), seqs: [ev.seq], details: [] });
      }
    }
    flushReply();

    // Labels of TLS arrows, once their records are gathered.
    for (const s of steps) {
      if (s.kind !== 'tls') continue;
      if (s.hello) {
        s.label = 'ClientHello';
        s.sniText = s.sni === null || s.sni === undefined ? 'SNI not known yet' : (s.sni === '' ? 'no SNI' : 'SNI ' + s.sni);
        const more = s.records.length - 1;
        if (more > 0) s.details.push('and ' + more + ' more record' + (more > 1 ? 's' : ''));
      } else if (s.alert) {
        s.label = s.alert.level + ' alert ' + s.alert.code + ' ' + s.alert.name;
      } else {
        s.label = summarizeRecords(s.records);
      }
    }

    const failure = findFailure(rec, steps, detail.active, alerts);
    if (failure && failure.step) failure.step.fail = true;
    return { rec, steps, failure, active: !!detail.active, truncated: !!(detail.transcript && detail.transcript.truncated), noTranscript: !detail.transcript };
  }

  // summarizeRecords names a run of records: "server_hello, change_cipher_spec,
  // application_data ×4".
  function summarizeRecords(records) {
    const parts = [];
    for (const r of records) {
      const l = recordLabel(r);
      const last = parts[parts.length - 1];
      if (last && last.l === l) last.n++;
      else parts.push({ l, n: 1 });
    }
    return parts.map((p) => p.n > 1 ? p.l + ' ×' + p.n : p.l).join(', ');
  }

  // alertSentence is "alert 47 illegal_parameter: the server refused …".
  function alertSentence(a, from, alerts) {
    const info = alerts && alerts[String(a.code)];
    const head = 'alert ' + a.code + ' ' + a.name;
    if (!info) return head + ': an alert the TLS registry does not name; the ' + from + ' ended the handshake with it.';
    return head + ': ' + (from === 'client' ? info.client : info.server);
  }

  // findFailure picks the step a learner must see first: an alert (the
  // lab's or the client's), else a failed handshake, else the first 4xx
  // or 5xx reply, else an abnormal end. A session with none of these has
  // no failure.
  function findFailure(rec, steps, active, alerts) {
    const alertStep = steps.find((s) => s.alert);
    if (alertStep) {
      const from = alertStep.alertFrom === 'client' ? 'client' : 'server';
      return {
        step: alertStep,
        title: 'The ' + from + ' sent ' + alertStep.alert.level + ' alert ' + alertStep.alert.code + ' ' + alertStep.alert.name,
        sentence: alertSentence(alertStep.alert, from, alerts),
      };
    }
    for (const [a, from] of [[rec.alert_sent, 'server'], [rec.alert_received, 'client']]) {
      if (a) {
        const s = steps.find((x) => x.hello) || steps[steps.length - 1];
        return { step: s, title: 'The ' + from + ' sent ' + a.level + ' alert ' + a.code + ' ' + a.name, sentence: alertSentence(a, from, alerts) };
      }
    }
    if (rec.tls_error && !rec.tls) {
      const hello = steps.findIndex((x) => x.hello);
      const s = (hello >= 0 && steps.slice(hello + 1).find((x) => x.kind === 'tls' || x.kind === 'close')) || steps[hello] || steps[steps.length - 1];
      return { step: s, title: 'The TLS handshake failed', sentence: rec.tls_error };
    }
    const bad = steps.find((s) => s.bad);
    if (bad) {
      return {
        step: bad,
        title: 'The server refused ' + (bad.replyTo ? bad.replyTo.split(' ')[0].toUpperCase() : 'the session') + ' with ' + bad.code,
        sentence: bad.label + (bad.details.length ? ' ' + bad.details.join(' ') : ''),
      };
    }
    if (!active && (rec.end_reason === 'timeout' || rec.end_reason === 'reset')) {
      const s = steps.filter((x) => x.kind === 'close').pop() || steps[steps.length - 1];
      return { step: s, title: 'The session ended abnormally: ' + rec.end_reason, sentence: 'The connection ended without QUIT (' + rec.end_reason + ').' };
    }
    return null;
  }

  // render draws the model as an ordered list of rows.
  function render(m) {
    const rec = m.rec;
    const head = el('div', { class: 'ladder-head', 'aria-hidden': 'true' },
      el('div', { class: 'who client' }, 'Client', el('small', null, rec.remote || '')),
      el('div', null),
      el('div', { class: 'who server' }, 'Server', el('small', null, (rec.scenario || '') + ' ' + (rec.local || ''))));
    const list = el('ol', { class: 'ladder', id: 'ladder' });
    for (const s of m.steps) list.appendChild(row(s, m));
    if (m.active) list.appendChild(el('li', { class: 'step note waiting' }, el('span', { class: 'num' }), el('div', { class: 'arrow' }, el('div', { class: 'label' }, 'session still running…'))));
    if (!m.steps.length && !m.active) list.appendChild(el('li', { class: 'step note' }, el('span', { class: 'num' }), el('div', { class: 'arrow' }, el('div', { class: 'label' }, m.noTranscript ? 'no transcript kept for this session' : 'no steps'))));
    return el('div', { class: 'ladder-wrap' }, head, list);
  }

  function row(s, m) {
    const cls = ['step', s.dir, s.kind];
    if (s.tls) cls.push('in-tls');
    if (s.tlsPhase) cls.push('tls-phase');
    if (s.fail) cls.push('fail');
    if (s.kind === 'established') cls.push('ok');
    if (s.role) cls.push(s.role);
    const label = el('div', { class: 'label' });
    if (s.fail) label.appendChild(el('span', { class: 'fail-mark', title: 'the failing step' }, '✖ '));
    if (s.tls && s.kind !== 'tls') label.appendChild(el('span', { class: 'tag tls', title: 'sent inside TLS' }, 'TLS'));
    if (s.role === 'banner') label.appendChild(el('span', { class: 'tag' }, 'banner'));
    label.appendChild(el('span', { class: 'text' }, s.label));
    const body = [label];
    if (s.hello) body.push(el('div', { class: ['sni', s.sni ? 'has-sni' : 'no-sni'] }, s.sniText));
    if (s.keywords && s.keywords.length) {
      body.push(el('ul', { class: 'keywords', 'aria-label': 'EHLO keywords' }, s.keywords.map((k) => el('li', { class: k.toUpperCase() === 'STARTTLS' ? 'starttls' : null }, k))));
    }
    for (const d of s.details) body.push(el('div', { class: 'detail' }, d));
    if (s.kind === 'established' && s.sniSeen !== undefined) {
      body.push(el('div', { class: 'detail' }, s.sniSeen ? 'SNI ' + s.sniSeen : 'no SNI'));
    }
    if (s.fail && m.failure) body.push(el('div', { class: 'why' }, m.failure.sentence));
    body.push(el('div', { class: 'line', 'aria-hidden': 'true' }));
    return el('li', { class: cls, id: s.fail ? 'fail' : 'step-' + s.n, 'data-seqs': s.seqs.join(' '), 'data-verb': s.verb || null },
      el('span', { class: 'num' }, String(s.n)),
      el('div', { class: 'arrow' }, body));
  }

  return { model, render, alertSentence, recordLabel };
})();
