// Hindsight web view: the incident list and one incident's timeline,
// drawn from the JSON API and kept live by its event stream
// (/api/v1/stream). No framework and no build step: DOM and SVG are
// made by the two small builders below, and every text from an incident
// goes in as text, never as markup.
'use strict';

(() => {
  const SVGNS = 'http://www.w3.org/2000/svg';
  const SEVERITIES = ['SEV1', 'SEV2', 'SEV3', 'SEV4', 'SEV5'];
  const SEV_COLORS = { SEV1: '#7a0019', SEV2: '#c8102e', SEV3: '#e0700b', SEV4: '#b89500', SEV5: '#6b7a8f' };
  const COLORS = {
    firing: '#d23a3a', resolved: '#2e8b57', deploy: '#2457c5', failed: '#8b1a1a', suspect: '#c8102e',
    page: '#e0700b', ack: '#b89500', note: '#7d3cbd', change: '#5c6578',
  };

  // ---- small helpers ----

  // h builds an element: h('a', {href: '/x', class: 'y'}, 'text', child).
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }
  // s builds an SVG element the same way.
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVGNS, tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }
  function setAttrs(el, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  function append(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }

  // safeURL keeps links to http(s) and same-origin paths only.
  function safeURL(u) {
    if (typeof u !== 'string' || u === '') return null;
    try {
      const p = new URL(u, location.origin);
      return p.protocol === 'http:' || p.protocol === 'https:' ? p.href : null;
    } catch (e) {
      return null;
    }
  }

  async function getJSON(path) {
    const r = await fetch(path, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
    let body = null;
    try { body = await r.json(); } catch (e) { /* not JSON */ }
    if (!r.ok) {
      const msg = body && body.error ? body.error : r.status + ' ' + r.statusText;
      const err = new Error(msg);
      err.status = r.status;
      throw err;
    }
    return body;
  }

  const ms = (t) => (t ? Date.parse(t) : NaN);
  const pad = (n) => String(n).padStart(2, '0');
  // Times are shown in UTC, as the API and the draft give them.
  function clock(t, seconds) {
    const d = new Date(t);
    return pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()) + (seconds ? ':' + pad(d.getUTCSeconds()) : '');
  }
  function day(t) {
    const d = new Date(t);
    return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate());
  }
  const stamp = (t) => day(t) + ' ' + clock(t, false) + ' UTC';
  const stampSec = (t) => day(t) + ' ' + clock(t, true) + ' UTC';
  // dur: 45s, 6m1s, 2h5m, 3d4h.
  function dur(msec) {
    if (!isFinite(msec)) return '';
    const neg = msec < 0;
    let sec = Math.round(Math.abs(msec) / 1000);
    const d = Math.floor(sec / 86400); sec -= d * 86400;
    const hh = Math.floor(sec / 3600); sec -= hh * 3600;
    const m = Math.floor(sec / 60); sec -= m * 60;
    let out;
    if (d) out = d + 'd' + (hh ? hh + 'h' : '');
    else if (hh) out = hh + 'h' + (m ? m + 'm' : '');
    else if (m) out = m + 'm' + (sec ? sec + 's' : '');
    else out = sec + 's';
    return (neg ? '−' : '') + out;
  }
  function ago(t) {
    const d = Date.now() - ms(t);
    if (d < 45000) return 'just now';
    return dur(d).replace(/(\d+[a-z]+)\d+[a-z]+$/, '$1') + ' ago';
  }
  function timeEl(t, withSeconds) {
    return h('time', { datetime: t, title: stampSec(t) }, withSeconds ? clock(t, true) : stamp(t));
  }
  function announce(text) {
    const a = document.getElementById('announce');
    a.textContent = '';
    setTimeout(() => { a.textContent = text; }, 30);
  }
  function sevBadge(level, title) {
    return h('span', { class: 'sev ' + (level || ''), title: title || null }, level || '—');
  }
  function statusBadge(status) {
    return h('span', { class: 'status ' + status }, status);
  }

  // ---- live updates ----

  // Live follows /api/v1/stream. The browser's EventSource reconnects by
  // itself with Last-Event-ID, and the server replays what was missed;
  // a "reset" event means it could not, so the page reloads its data.
  class Live {
    constructor(onIncident, onReset) {
      this.badge = document.getElementById('live');
      this.es = new EventSource('/api/v1/stream');
      this.es.addEventListener('hello', () => this.state(true));
      this.es.addEventListener('incident', (e) => {
        this.state(true);
        let data;
        try { data = JSON.parse(e.data); } catch (err) { return; }
        onIncident(data);
      });
      this.es.addEventListener('reset', () => { this.state(true); onReset(); });
      this.es.addEventListener('error', () => this.state(false));
    }
    state(on) {
      this.badge.classList.toggle('on', on);
      this.badge.classList.toggle('off', !on);
      this.badge.textContent = on ? 'live' : 'reconnecting…';
      this.badge.title = on ? 'New alerts, pages and deploys appear without a reload' : 'The live stream is down; retrying';
      document.body.dataset.live = on ? 'on' : 'off';
    }
  }

  // ---- keyboard ----

  const keys = {};
  document.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const help = document.getElementById('help');
    const typing = /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement && document.activeElement.tagName);
    if (e.key === 'Escape') {
      if (help.open) help.close();
      else if (typing) { document.activeElement.blur(); if (keys.escape) keys.escape(); }
      return;
    }
    if (typing) return;
    if (e.key === '?') { e.preventDefault(); help.open ? help.close() : help.showModal(); return; }
    if (e.key === 'u' && location.pathname !== '/') { location.href = '/'; return; }
    const fn = keys[e.key];
    if (fn) { e.preventDefault(); fn(e); }
  });
  document.getElementById('help-button').addEventListener('click', () => document.getElementById('help').showModal());

  // moveFocus moves among the given elements by delta, from the focused one.
  function moveFocus(els, delta) {
    if (!els.length) return null;
    let i = els.indexOf(document.activeElement);
    if (i < 0) i = els.findIndex((el) => el.closest('.current, .selected'));
    i = i < 0 ? (delta > 0 ? 0 : els.length - 1) : Math.min(els.length - 1, Math.max(0, i + delta));
    els[i].focus();
    els[i].scrollIntoView({ block: 'nearest' });
    return els[i];
  }

  // ================= the incident list =================

  // summary normalises an incident of the list API and of a stream event.
  function summary(v) {
    return {
      id: v.id, title: v.title, status: v.status, started_at: v.started_at, resolved_at: v.resolved_at,
      services: v.services || [], severity: v.severity || {},
      entries: v.entries || 0,
      suspects: typeof v.suspects === 'number' ? v.suspects : (v.suspected_causes || []).length,
      paged_at: v.paged_at, monitoring_gap: !!v.monitoring_gap, merged_into: v.merged_into,
    };
  }

  function listPage(main) {
    document.title = 'Incidents · Hindsight';
    const params = new URLSearchParams(location.search);
    const f = {
      status: params.get('status') || '', severity: params.get('severity') || '',
      service: params.get('service') || '', q: params.get('q') || '',
    };
    const byId = new Map();
    const flash = new Set();
    let next = null;
    let error = null;

    const search = h('input', { type: 'search', name: 'q', value: f.q, placeholder: 'title, id or service', 'aria-label': 'Search incidents' });
    const select = (name, label, options) => h('label', {}, label,
      h('select', { name }, options.map(([v, t]) => h('option', { value: v, selected: f[name] === v }, t))));
    const service = h('input', { type: 'text', name: 'service', value: f.service, list: 'services', size: 14, autocomplete: 'off' });
    const services = h('datalist', { id: 'services' });
    const count = h('span', { class: 'count', role: 'status' });
    const form = h('form', { class: 'filters', role: 'search', action: '/', method: 'get' },
      h('label', {}, 'Search', search),
      select('status', 'Status', [['', 'any'], ['open', 'open'], ['resolved', 'resolved']]),
      select('severity', 'Severity', [['', 'any']].concat(SEVERITIES.map((x) => [x, x]))),
      h('label', {}, 'Service', service, services),
      count);
    const body = h('tbody');
    const table = h('table', { class: 'incidents' },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Severity'), h('th', { scope: 'col' }, 'Incident'),
        h('th', { scope: 'col' }, 'Services'), h('th', { scope: 'col' }, 'Status'),
        h('th', { scope: 'col' }, 'Started'), h('th', { scope: 'col', class: 'opt' }, 'Duration'),
        h('th', { scope: 'col', class: 'opt' }, 'Signals'))),
      body);
    const more = h('p', {});
    main.replaceChildren(h('h1', {}, 'Incidents'), form, table, more);

    function readForm() {
      const fd = new FormData(form);
      for (const k of ['status', 'severity', 'service', 'q']) f[k] = (fd.get(k) || '').trim();
      const u = new URLSearchParams();
      for (const [k, v] of Object.entries(f)) if (v) u.set(k, v);
      history.replaceState(null, '', u.toString() ? '/?' + u : '/');
    }
    form.addEventListener('submit', (e) => { e.preventDefault(); readForm(); load(); });
    form.addEventListener('change', (e) => { readForm(); if (e.target !== search) load(); else draw(); });
    search.addEventListener('input', () => { readForm(); draw(); });

    // matches applies the filters the API applied, so a live change can
    // add or remove a row exactly as a reload would.
    function matches(v) {
      if (v.status === 'merged') return false;
      if (f.status && v.status !== f.status) return false;
      if (f.severity && (v.severity || {}).effective !== f.severity) return false;
      if (f.service && !v.services.includes(f.service)) return false;
      return true;
    }
    function textMatch(v) {
      if (!f.q) return true;
      const q = f.q.toLowerCase();
      return [v.title, v.id].concat(v.services).some((x) => String(x || '').toLowerCase().includes(q));
    }

    function query(cursor) {
      const u = new URLSearchParams({ limit: '100' });
      for (const k of ['status', 'severity', 'service']) if (f[k]) u.set(k, f[k]);
      if (cursor) u.set('cursor', cursor);
      return '/api/v1/incidents?' + u;
    }
    async function load(cursor) {
      try {
        const page = await getJSON(query(cursor));
        if (!cursor) byId.clear();
        for (const v of page.incidents) byId.set(v.id, summary(v));
        next = page.next || null;
        error = null;
      } catch (e) {
        error = e;
      }
      draw();
    }

    function row(v) {
      const dEnd = v.resolved_at ? ms(v.resolved_at) : Date.now();
      const signals = [];
      if (v.suspects) signals.push(h('span', { class: 'tag suspect', title: 'suspected changes (deploys)' }, v.suspects + ' suspect' + (v.suspects > 1 ? 's' : '')));
      if (v.paged_at) signals.push(h('span', { class: 'tag', title: 'paged at ' + stampSec(v.paged_at) }, 'paged'));
      if (v.monitoring_gap) signals.push(h('span', { class: 'tag gap', title: 'a page came before any alert' }, 'monitoring gap'));
      signals.push(h('span', { class: 'tag', title: 'timeline entries' }, v.entries + ' entries'));
      const sev = v.severity || {};
      return h('tr', { 'data-id': v.id, class: flash.has(v.id) ? 'flash' : null },
        h('td', {}, sevBadge(sev.effective, sev.override ? 'set by hand; suggested ' + sev.suggested : 'suggested')),
        h('td', { class: 'title' }, h('a', { href: '/incidents/' + encodeURIComponent(v.id), class: 'row-link' }, v.title || v.id),
          h('span', { class: 'id mono' }, v.id)),
        h('td', {}, v.services.join(', ')),
        h('td', {}, statusBadge(v.status)),
        h('td', {}, timeEl(v.started_at), h('div', { class: 'muted' }, ago(v.started_at))),
        h('td', { class: 'opt' }, dur(dEnd - ms(v.started_at)), v.resolved_at ? '' : h('span', { class: 'muted' }, ' so far')),
        h('td', { class: 'opt' }, signals));
    }

    function draw() {
      const focusedId = document.activeElement && document.activeElement.closest && document.activeElement.closest('tr[data-id]');
      const keep = focusedId ? focusedId.dataset.id : null;
      const all = [...byId.values()].filter(matches);
      const shown = all.filter(textMatch).sort((a, b) => ms(b.started_at) - ms(a.started_at) || (a.id < b.id ? 1 : -1));
      body.replaceChildren(...shown.map(row));
      if (!shown.length) {
        body.append(h('tr', {}, h('td', { colspan: 7, class: 'empty' },
          error ? h('span', { class: 'error' }, 'Cannot load incidents: ' + error.message)
            : byId.size ? 'No incident matches these filters.' : 'No incidents yet. They appear here as alerts, pages and deploys come in.')));
      }
      count.textContent = shown.length + (shown.length === 1 ? ' incident' : ' incidents') + (next ? ' (more below)' : '');
      services.replaceChildren(...[...new Set(all.flatMap((v) => v.services))].sort().map((x) => h('option', { value: x })));
      more.replaceChildren(next ? h('button', { type: 'button', class: 'act', onclick: () => load(next) }, 'Load older incidents') : '');
      if (error && shown.length) more.prepend(h('p', { class: 'error' }, 'Cannot load incidents: ' + error.message));
      if (keep) {
        const el = body.querySelector('tr[data-id="' + CSS.escape(keep) + '"] a.row-link');
        if (el) el.focus();
      }
    }

    new Live((ev) => {
      if (ev.error) { byId.delete(ev.id); draw(); return; }
      const v = summary(ev);
      const isNew = !byId.has(v.id);
      if (matches(v)) {
        byId.set(v.id, v);
        flash.add(v.id);
        setTimeout(() => flash.delete(v.id), 3000);
        if (isNew) announce('New incident: ' + v.title);
      } else {
        byId.delete(v.id);
      }
      draw();
    }, () => load());

    keys['/'] = () => search.focus();
    keys.escape = () => { if (f.q) { search.value = ''; readForm(); draw(); } };
    const rowLinks = () => [...body.querySelectorAll('a.row-link')];
    keys.j = () => mark(moveFocus(rowLinks(), 1));
    keys.k = () => mark(moveFocus(rowLinks(), -1));
    keys.ArrowDown = keys.j;
    keys.ArrowUp = keys.k;
    function mark(a) {
      body.querySelectorAll('tr.current').forEach((r) => r.classList.remove('current'));
      if (a) a.closest('tr').classList.add('current');
    }
    // Relative times age, and an incident resolves by the wall clock
    // (resolve_after) without any new event: redraw and reload now and
    // then.
    setInterval(() => load(), 60000);
    load();
  }

  // ================= one incident =================

  function incidentPage(main, id) {
    const state = { lanes: localStorage.getItem('hindsight.lanes') || 'service', showHidden: false, draft: false, inc: null, selected: location.hash.slice(1) };
    let pending = null;

    async function load() {
      try {
        state.inc = await getJSON('/api/v1/incidents/' + encodeURIComponent(id));
        state.error = null;
      } catch (e) {
        state.error = e;
      }
      draw();
    }
    function draw() {
      const scroll = window.scrollY;
      if (state.error && !state.inc) {
        main.replaceChildren(h('p', { class: 'crumbs' }, h('a', { href: '/' }, '← Incidents')),
          h('p', { class: 'error' }, state.error.status === 404 ? 'No incident ' + id + '.' : 'Cannot load ' + id + ': ' + state.error.message));
        return;
      }
      if (!state.inc) return;
      main.replaceChildren(...incidentView(state.inc, state, draw));
      if (state.error) main.prepend(h('p', { class: 'error' }, 'Showing the last copy; reloading failed: ' + state.error.message));
      window.scrollTo(0, scroll);
      select(state.selected, false);
    }

    new Live((ev) => {
      if (ev.id !== id) return;
      clearTimeout(pending);
      pending = setTimeout(() => { load().then(() => announce('Incident updated')); }, 250);
    }, () => load());

    // An incident resolves by the wall clock (resolve_after) with no
    // event to tell; look again now and then while it is open.
    setInterval(() => { if (!state.inc || state.inc.status === 'open') load(); }, 30000);
    window.addEventListener('hashchange', () => select(location.hash.slice(1), true));
    window.addEventListener('resize', debounce(draw, 200));
    window.addEventListener('beforeprint', () => document.querySelectorAll('details').forEach((d) => { d.dataset.wasOpen = d.open; d.open = true; }));
    window.addEventListener('afterprint', () => document.querySelectorAll('details').forEach((d) => { d.open = d.dataset.wasOpen === 'true'; }));

    // select highlights an entry in the chart and the list and opens its
    // reasons: a marker's click is one step from why it is there.
    function select(entryId, scroll) {
      state.selected = entryId;
      document.querySelectorAll('.selected').forEach((el) => el.classList.remove('selected'));
      if (!entryId) return;
      const row = document.getElementById(entryId);
      if (!row) return;
      row.classList.add('selected');
      const det = row.querySelector('details');
      if (det) det.open = true;
      document.querySelectorAll('[data-entry="' + CSS.escape(entryId) + '"]').forEach((m) => m.classList.add('selected'));
      if (scroll) row.scrollIntoView({ block: 'center' });
    }

    keys.l = () => { state.lanes = state.lanes === 'service' ? 'source' : 'service'; localStorage.setItem('hindsight.lanes', state.lanes); draw(); };
    keys.d = () => { state.draft = true; draw(); const d = document.getElementById('draft'); if (d) d.scrollIntoView(); };
    const entryLinks = () => [...document.querySelectorAll('table.entries summary')];
    keys.j = () => { const el = moveFocus(entryLinks(), 1); if (el) select(el.closest('tr').id, false); };
    keys.k = () => { const el = moveFocus(entryLinks(), -1); if (el) select(el.closest('tr').id, false); };
    load();
  }

  function debounce(fn, wait) {
    let t = null;
    return () => { clearTimeout(t); t = setTimeout(fn, wait); };
  }

  // milestones are the times that tell how the response went.
  function milestones(inc) {
    const start = ms(inc.started_at);
    const tl = inc.timeline || [];
    const firstAlert = tl.find((e) => e.kind === 'alert.firing');
    let notified = null;
    if (firstAlert) {
      // When the alert reached Hindsight is when someone could know; a
      // replay or a backfill receives it much later, and then only the
      // alert's own time tells.
      const rec = ms(firstAlert.received_at);
      const at = ms(firstAlert.at);
      notified = isFinite(rec) && rec >= at && rec - at < 3600e3 ? rec : at;
    }
    const paged = ms(inc.paged_at);
    const acked = ms(inc.acknowledged_at);
    const end = ms(inc.resolved_at);
    let detected = [notified, paged].filter(isFinite);
    detected = detected.length ? Math.min(...detected) : NaN;
    return { start, notified, paged, acked, end, detected };
  }

  function incidentView(inc, state, redraw) {
    document.title = (inc.title || inc.id) + ' · Hindsight';
    const sev = inc.severity || {};
    const m = milestones(inc);
    const end = isFinite(m.end) ? m.end : Date.now();
    const tl = inc.timeline || [];
    const hiddenCount = tl.filter((e) => e.hidden).length;
    const suspects = new Map((inc.suspected_causes || []).map((c) => [c.entry_id, c]));
    const out = [];

    out.push(h('p', { class: 'crumbs no-print' }, h('a', { href: '/' }, '← Incidents')));
    out.push(h('div', { class: 'headline' }, sevBadge(sev.effective), h('h1', {}, inc.title || inc.id), statusBadge(inc.status)));
    const pd = (inc.pagerduty || []).map((p) => {
      const u = safeURL(p.url);
      const label = 'PagerDuty #' + (p.number || p.incident_id) + (p.priority ? ' ' + p.priority : '');
      return u ? h('a', { href: u, rel: 'noreferrer noopener', target: '_blank' }, label) : label;
    });
    out.push(h('div', { class: 'meta' },
      h('span', {}, h('span', { class: 'mono' }, inc.id)),
      h('span', {}, 'Services ', h('b', {}, (inc.services || []).join(', ') || '—')),
      h('span', {}, 'Started ', h('b', {}, stampSec(inc.started_at))),
      h('span', {}, inc.resolved_at ? 'Lasted ' : 'Ongoing for ', h('b', {}, dur(end - m.start))),
      (inc.responders || []).length ? h('span', {}, 'Responders ', h('b', {}, inc.responders.join(', '))) : null,
      pd.length ? h('span', {}, pd.flatMap((x, i) => (i ? [', ', x] : [x]))) : null));
    if (inc.merged_into) {
      out.push(h('p', { class: 'banner' }, 'This incident was merged into ', h('a', { href: '/incidents/' + encodeURIComponent(inc.merged_into) }, inc.merged_into), '.'));
    }
    if (inc.monitoring_gap) {
      out.push(h('p', { class: 'banner' }, 'Monitoring gap: a page was raised before any alert fired. An alert is missing for this.'));
    }

    // The response in four numbers.
    const fact = (cls, k, t, rel) => h('div', { class: 'fact ' + cls }, h('div', { class: 'k' }, k),
      h('div', { class: 'v' }, isFinite(t) ? clock(t, true) : '—'),
      h('div', { class: 'd' }, isFinite(t) ? rel : (cls === 'end' ? 'still open' : 'not yet')));
    out.push(h('div', { class: 'facts' },
      fact('symptom', 'First symptom', m.start, day(m.start) + ' UTC'),
      fact('paged', isFinite(m.paged) ? 'Paged' : 'Alert received', isFinite(m.paged) ? m.paged : m.detected,
        '+' + dur((isFinite(m.paged) ? m.paged : m.detected) - m.start) + ' after the first symptom'),
      fact('ack', 'Acknowledged', m.acked, '+' + dur(m.acked - m.start)),
      fact('end', 'Resolved', m.end, '+' + dur(m.end - m.start) + ' in all')));

    // The chart.
    const seg = h('span', { class: 'seg', role: 'group', 'aria-label': 'Lanes' },
      ['service', 'source'].map((mode) => h('button', {
        type: 'button', 'aria-pressed': String(state.lanes === mode),
        onclick: () => { state.lanes = mode; localStorage.setItem('hindsight.lanes', mode); redraw(); },
      }, 'by ' + mode)));
    out.push(h('div', { class: 'chart-tools' }, h('h2', {}, 'Timeline'), h('span', { class: 'muted' }, 'lanes'), seg,
      hiddenCount ? h('label', { class: 'muted' }, h('input', { type: 'checkbox', checked: state.showHidden, onchange: (e) => { state.showHidden = e.target.checked; redraw(); } }), ' show ' + hiddenCount + ' hidden') : null,
      h('span', { class: 'muted' }, 'times in UTC · click a mark for its reasons')));
    const chartBox = h('div', { class: 'chart' });
    out.push(chartBox);
    // Width is known once the box is in the page.
    requestAnimationFrame(() => {
      chartBox.replaceChildren(chart(inc, state, suspects, m, chartBox.clientWidth || 1000));
      const sel = state.selected && chartBox.querySelectorAll('[data-entry="' + CSS.escape(state.selected) + '"]');
      if (sel) sel.forEach((x) => x.classList.add('selected'));
    });
    out.push(legend());

    // Why: suspects, severity, impact.
    const panels = h('div', { class: 'panels' });
    const sus = inc.suspected_causes || [];
    panels.append(h('section', { class: 'card', id: 'suspects' }, h('h2', {}, 'Suspected changes'),
      sus.length ? h('ol', {}, sus.map((c) => {
        const e = tl.find((x) => x.id === c.entry_id);
        return h('li', { class: 'suspect-item' },
          h('a', { href: '#' + c.entry_id }, e ? e.summary : 'deploy ' + c.deploy_id), ' ',
          h('span', { class: 'score', title: 'suspect score' }, Math.round(c.score * 100) + '%'),
          e ? h('span', { class: 'muted' }, ' ' + dur(m.start - ms(e.at)) + ' before the first symptom') : null,
          h('ul', { class: 'reasons' }, (c.reasons || []).map((r) => h('li', {}, r))));
      })) : h('p', { class: 'muted' }, 'No deploy on these services or their dependencies came shortly before the first symptom.'),
      h('p', { class: 'muted' }, 'Suspects, not causes: the score adds up the reasons listed.')));
    const hist = (sev.history || []);
    const histTotal = hist.reduce((a, p) => a + Math.max(p.seconds, 0), 0) || 1;
    panels.append(h('section', { class: 'card', id: 'severity' }, h('h2', {}, 'Severity'),
      h('p', {}, sevBadge(sev.effective), ' ', sev.override ? 'set by hand (suggested ' + sev.suggested + ')' : 'suggested'),
      h('ul', { class: 'reasons' }, (sev.reasons || []).map((r) => h('li', {}, r))),
      hist.length > 1 || (hist.length === 1 && hist[0].override) ? [
        h('div', { class: 'hist', role: 'img', 'aria-label': 'time at each severity' },
          hist.map((p) => {
            const el = h('span', { title: p.level + ' for ' + dur(p.seconds * 1000) + ': ' + p.reason });
            el.style.flex = String(Math.max(p.seconds, 1) / histTotal);
            el.style.background = SEV_COLORS[p.level] || '#999';
            return el;
          })),
        h('ul', { class: 'reasons' }, hist.map((p) => h('li', {}, h('b', {}, p.level), ' from ' + clock(ms(p.since), true) + ' for ' + dur(p.seconds * 1000) + ': ' + p.reason))),
      ] : null));
    const imp = inc.impact || {};
    panels.append(h('section', { class: 'card', id: 'impact' }, h('h2', {}, 'Impact'),
      h('p', {}, imp.summary || '—', imp.customer_facing ? h('span', { class: 'tag suspect' }, 'customer-facing') : null),
      (imp.metrics || []).length ? h('ul', {}, imp.metrics.map((x) => h('li', {}, x.service + ' ' + x.name + ': ', h('b', {}, fmtNum(x.value)), h('div', { class: 'muted mono' }, x.query)))) : null,
      (imp.errors || []).length ? h('ul', { class: 'reasons' }, imp.errors.map((x) => h('li', { class: 'muted' }, x))) : null));
    out.push(panels);

    // Every entry, with its reasons.
    out.push(h('h2', {}, 'Entries ', h('span', { class: 'muted' }, '(' + tl.length + ', oldest first)')));
    const rows = tl.filter((e) => state.showHidden || !e.hidden).map((e) => entryRow(e, m.start, suspects.get(e.id)));
    out.push(h('table', { class: 'entries' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Time (UTC)'), h('th', { scope: 'col' }, 'What happened'), h('th', { scope: 'col' }, 'Service'))),
      h('tbody', {}, rows)));

    // The post-mortem draft.
    const base = '/api/v1/incidents/' + encodeURIComponent(inc.id) + '/postmortem';
    const draft = h('section', { class: 'draft', id: 'draft' }, h('h2', {}, 'Post-mortem draft'),
      h('div', { class: 'downloads' },
        h('button', { type: 'button', class: 'act', 'aria-expanded': String(state.draft), onclick: () => { state.draft = !state.draft; redraw(); } }, state.draft ? 'Hide preview' : 'Preview'),
        h('span', { class: 'muted' }, 'Download:'),
        h('a', { class: 'act', href: base + '?format=markdown', download: inc.id + '.md' }, 'Markdown'),
        h('a', { class: 'act', href: base + '?format=html', download: inc.id + '.html' }, 'HTML'),
        h('a', { class: 'act', href: base + '?format=json', download: inc.id + '.json' }, 'JSON'),
        h('a', { class: 'act', href: base + '?format=html&audience=customer', download: inc.id + '-customer.html' }, 'Customer version')),
      state.draft ? h('iframe', { src: base + '?format=html', title: 'Post-mortem draft', sandbox: '' }) : null);
    out.push(draft);
    return out;
  }

  function fmtNum(v) {
    if (typeof v !== 'number') return String(v);
    if (v !== 0 && Math.abs(v) < 1) return (v * 100).toFixed(2).replace(/\.?0+$/, '') + '%';
    return v.toLocaleString('en-US', { maximumFractionDigits: 2 });
  }

  function entryRow(e, start, suspect) {
    const details = [];
    const reasons = e.reasons || [];
    const ref = e.ref || {};
    const ann = e.annotations || {};
    const dl = [];
    const add = (k, v) => { if (v) dl.push(h('dt', {}, k), h('dd', {}, v)); };
    add('Entry', h('span', { class: 'mono' }, e.id));
    add('Received', e.received_at ? stampSec(e.received_at) : null);
    add('Alert', ref.fingerprint ? h('span', { class: 'mono' }, ref.fingerprint) : null);
    const gen = e.alert && safeURL(e.alert.generator_url);
    add('Graph', gen ? h('a', { href: gen, rel: 'noreferrer noopener', target: '_blank' }, 'the alert\'s expression in Prometheus') : null);
    add('PagerDuty', ref.pagerduty_incident_id);
    add('Deploy', ref.deploy_id);
    if (e.note) add('Note', e.note);
    for (const [k, v] of Object.entries(ann)) {
      const u = /_url$/.test(k) ? safeURL(v) : null;
      add(k, u ? h('a', { href: u, rel: 'noreferrer noopener', target: '_blank' }, v) : v);
    }
    const labels = Object.entries(e.labels || {}).map(([k, v]) => k + '=' + v).join(', ');
    add('Labels', labels ? h('span', { class: 'mono' }, labels) : null);
    details.push(h('ul', { class: 'reasons' }, reasons.length ? reasons.map((r) => h('li', {}, r)) : h('li', { class: 'muted' }, 'no reason recorded')));
    if (suspect) details.push(h('p', {}, h('span', { class: 'score' }, 'Suspect ' + Math.round(suspect.score * 100) + '%'), h('ul', { class: 'reasons' }, (suspect.reasons || []).map((r) => h('li', {}, r)))));
    details.push(h('dl', {}, dl));
    const tags = [];
    if (suspect) tags.push(h('span', { class: 'tag suspect' }, 'suspect ' + Math.round(suspect.score * 100) + '%'));
    if (e.pinned) tags.push(h('span', { class: 'tag pinned' }, 'pinned'));
    if (e.hidden) tags.push(h('span', { class: 'tag' }, 'hidden'));
    const off = ms(e.at) - start;
    return h('tr', { id: e.id, class: e.hidden ? 'hidden-entry' : null },
      h('td', { class: 't' }, h('time', { datetime: e.at, title: stampSec(e.at) }, clock(e.at, true)), h('span', { class: 'off' }, (off >= 0 ? '+' : '') + dur(off))),
      h('td', {}, h('details', {},
        h('summary', {}, h('span', { class: 'src ' + e.source + (/resolved/.test(e.kind) ? ' resolved' : ''), title: e.source + ' ' + e.kind }), e.summary || e.kind, tags, h('span', { class: 'sr-only' }, ', ' + e.kind + ', reasons')),
        details)),
      h('td', {}, e.service || ''));
  }

  function legend() {
    const item = (mark, text) => h('span', {}, svgIcon(mark), text);
    return h('div', { class: 'legend', 'aria-hidden': 'true' },
      item('firing', 'alert firing (bar until resolved)'), item('deploy', 'deploy'), item('suspect', 'suspect deploy'),
      item('page', 'page'), item('ack', 'acknowledged'), item('note', 'note'), item('change', 'change by a person or Hindsight'),
      item('gap', 'first symptom to page (nobody knew yet)'));
  }
  function svgIcon(kind) {
    const svg = s('svg', { width: 16, height: 12, viewBox: '0 0 16 12' });
    const shape = {
      firing: () => s('rect', { x: 1, y: 3, width: 14, height: 6, rx: 2, fill: COLORS.firing }),
      deploy: () => s('path', { d: 'M8 1 L13 6 L8 11 L3 6 Z', fill: COLORS.deploy }),
      suspect: () => s('path', { d: 'M8 1 L13 6 L8 11 L3 6 Z', fill: COLORS.deploy, stroke: COLORS.suspect, 'stroke-width': 2.2 }),
      page: () => s('path', { d: 'M8 1 L14 11 L2 11 Z', fill: COLORS.page }),
      ack: () => s('circle', { cx: 8, cy: 6, r: 4.5, fill: COLORS.ack }),
      note: () => s('rect', { x: 3, y: 1.5, width: 9, height: 9, fill: COLORS.note }),
      change: () => s('rect', { x: 6.5, y: 0, width: 3, height: 12, fill: COLORS.change }),
      gap: () => [hatchDef('lhatch'), s('rect', { x: 0, y: 2, width: 16, height: 8, fill: 'url(#lhatch)', stroke: COLORS.page })],
    }[kind];
    append(svg, [shape()]);
    return svg;
  }
  function hatchDef(id) {
    return s('defs', {}, s('pattern', { id, width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' },
      s('rect', { width: 6, height: 6, fill: '#fff3e0' }), s('line', { x1: 0, y1: 0, x2: 0, y2: 6, stroke: COLORS.page, 'stroke-width': 2.5 })));
  }

  // ---- the timeline chart ----

  const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800].map((x) => x * 1000);

  function laneOf(e, mode) {
    if (mode === 'source') return { alertmanager: 'alerts', pagerduty: 'pages', deploy: 'deploys', note: 'notes', hindsight: 'changes' }[e.source] || e.source;
    if (e.service) return e.service;
    return { pagerduty: 'pages', note: 'notes', hindsight: 'changes' }[e.source] || e.source;
  }

  function chart(inc, state, suspects, m, width) {
    const tl = (inc.timeline || []).filter((e) => state.showHidden || !e.hidden);
    const now = Date.now();
    // The window: from the earliest entry to the end (or the last entry
    // while open: an old open incident is not stretched to today).
    const times = tl.map((e) => ms(e.at)).concat([m.start, m.detected, m.paged, m.acked, m.end]).filter(isFinite);
    let t0 = Math.min(...times);
    let t1 = Math.max(...times);
    const open = !isFinite(m.end);
    let nowOff = false;
    if (open) {
      if (now - t1 < 6 * 3600e3) t1 = Math.max(t1, now);
      else nowOff = true;
    }
    if (!(t1 > t0)) t1 = t0 + 60e3;
    const padT = Math.max((t1 - t0) * 0.04, 20e3);
    t0 -= padT; t1 += padT;

    const labelW = Math.min(170, Math.max(110, width * 0.14));
    const right = 18;
    const plotW = Math.max(200, width - labelW - right);
    const x = (t) => labelW + ((t - t0) / (t1 - t0)) * plotW;

    // Alerts: one bar per firing, from its firing entry to its resolution.
    const firings = new Map();
    for (const e of tl) {
      if (e.source !== 'alertmanager' || !e.ref || !e.ref.fingerprint) continue;
      const key = e.ref.fingerprint + '|' + (e.ref.starts_at || '');
      let f = firings.get(key);
      if (!f) firings.set(key, (f = { key, start: null, end: null, lane: laneOf(e, state.lanes), first: e, entries: [] }));
      f.entries.push(e);
      if (e.kind === 'alert.firing' && f.start === null) { f.start = ms(e.at); f.first = e; }
      if (e.kind === 'alert.resolved') { f.end = ms(e.at); f.resolvedEntry = e; }
    }
    for (const f of firings.values()) {
      if (f.start === null) f.start = ms((f.first.ref && f.first.ref.starts_at) || f.first.at);
    }

    // Lanes, in order of their first entry.
    const lanes = new Map();
    const laneFor = (name) => {
      if (!lanes.has(name)) lanes.set(name, { name, points: [], bars: [] });
      return lanes.get(name);
    };
    for (const e of tl) {
      const lane = laneFor(laneOf(e, state.lanes));
      if (e.source === 'alertmanager' && e.ref && e.ref.fingerprint) continue; // drawn as bars
      lane.points.push(e);
    }
    for (const f of [...firings.values()].sort((a, b) => a.start - b.start)) laneFor(f.lane).bars.push(f);
    // Bars share rows when they do not overlap, so a lane stays compact.
    for (const lane of lanes.values()) {
      const rowEnds = [];
      for (const f of lane.bars) {
        const fEnd = f.end !== null ? f.end : t1;
        let r = rowEnds.findIndex((end) => end + (t1 - t0) * 0.01 < f.start);
        if (r < 0) { r = rowEnds.length; rowEnds.push(fEnd); } else rowEnds[r] = fEnd;
        f.row = r;
      }
      lane.rows = Math.min(rowEnds.length, 12);
      for (const f of lane.bars) f.row = Math.min(f.row, 11);
    }

    const axisY = 22;
    const sevY = 34;
    const sevH = 12;
    const respY = sevY + sevH + 6;
    const respH = 12;
    let y = respY + respH + 10;
    const laneTop = y;
    const pointRowH = 24;
    const barRowH = 11;
    for (const lane of lanes.values()) {
      lane.y = y;
      lane.pointY = y + pointRowH / 2;
      lane.h = (lane.points.length ? pointRowH : 6) + lane.rows * barRowH + 8;
      y += lane.h;
    }
    const height = y + 8;
    const svg = s('svg', { viewBox: '0 0 ' + width + ' ' + height, width, height, role: 'img',
      'aria-label': 'Timeline of ' + (inc.title || inc.id) + ' in ' + lanes.size + ' lanes; the entries are listed below the chart' });
    svg.append(hatchDef('hatch'));

    // Axis and grid.
    const span = t1 - t0;
    const step = STEPS.find((st) => span / st <= plotW / 95) || STEPS[STEPS.length - 1];
    const withDay = span > 20 * 3600e3 || day(t0) !== day(t1);
    const grid = s('g', {});
    for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
      const label = step < 60e3 ? clock(t, true) : (withDay && (new Date(t).getUTCHours() === 0 && new Date(t).getUTCMinutes() === 0 || t === Math.ceil(t0 / step) * step) ? day(t).slice(5) + ' ' + clock(t) : clock(t));
      grid.append(s('g', { class: 'tick' },
        s('line', { x1: x(t), x2: x(t), y1: axisY + 4, y2: height - 4 }),
        s('text', { x: x(t), y: axisY - 6, 'text-anchor': 'middle' }, label)));
    }
    svg.append(grid);
    svg.append(s('text', { x: 4, y: axisY - 6, class: 'lane-label sub' }, 'UTC'));

    // Lane backgrounds and labels.
    let i = 0;
    for (const lane of lanes.values()) {
      svg.append(s('rect', { class: 'lane-bg' + (i++ % 2 ? ' odd' : ''), x: 0, y: lane.y, width, height: lane.h }));
      const count = lane.points.length + lane.bars.length;
      svg.append(s('text', { x: 6, y: lane.y + 15, class: 'lane-label', 'font-weight': 600 }, clip(lane.name, labelW / 7.2)));
      svg.append(s('text', { x: 6, y: lane.y + 28, class: 'lane-label sub', 'font-size': 11 },
        lane.bars.length ? lane.bars.length + (lane.bars.length > 1 ? ' alerts' : ' alert') + (lane.points.length ? ' · ' + lane.points.length + ' more' : '') : count + (count > 1 ? ' entries' : ' entry')));
    }

    // Severity band: the effective level over time.
    svg.append(s('text', { x: 6, y: sevY + sevH - 2, class: 'lane-label sub', 'font-size': 11 }, 'severity'));
    const hist = (inc.severity && inc.severity.history) || [];
    for (const p of hist) {
      const a = Math.max(ms(p.since), t0);
      const b = Math.min(isFinite(ms(p.until)) ? ms(p.until) : t1, t1);
      if (!(b > a)) continue;
      const g = s('a', { href: '#severity', 'aria-label': p.level + ' from ' + clock(ms(p.since), true) + ': ' + p.reason },
        s('title', {}, p.level + ' from ' + stampSec(ms(p.since)) + ' for ' + dur(p.seconds * 1000) + '\n' + p.reason),
        s('rect', { x: x(a), y: sevY, width: Math.max(x(b) - x(a), 1), height: sevH, fill: SEV_COLORS[p.level] || '#999', rx: 2 }));
      if (x(b) - x(a) > 40) g.append(s('text', { x: x(a) + 4, y: sevY + sevH - 2, fill: '#fff', 'font-size': 10, 'font-weight': 700, style: null }, p.level + (p.override ? ' (by hand)' : '')));
      svg.append(g);
    }

    // Response band: first symptom to detection (hatched: nobody knew
    // yet), to acknowledgement, to the end.
    svg.append(s('text', { x: 6, y: respY + respH - 2, class: 'lane-label sub', 'font-size': 11 }, 'response'));
    const band = (a, b, fill, label, cls) => {
      if (!isFinite(a) || !isFinite(b) || b < a) return;
      const w = Math.max(x(b) - x(a), 2);
      const g = s('g', { class: cls }, s('title', {}, label),
        s('rect', { x: x(a), y: respY, width: w, height: respH, fill, stroke: cls === 'gap' ? COLORS.page : 'none', 'stroke-width': 1 }));
      if (w > label.length * 5.6 + 8) g.append(s('text', { x: x(a) + 4, y: respY + respH - 2, 'font-size': 10, fill: '#3b2a10' }, label));
      svg.append(g);
    };
    const det = m.detected;
    // Detection here is when a person could know: the page, or the alert
    // reaching Hindsight when nobody was paged.
    const detWord = isFinite(m.paged) && det === m.paged ? 'paged' : 'alert received';
    if (isFinite(det)) band(m.start, det, 'url(#hatch)', detWord + ' after ' + dur(det - m.start), 'gap');
    const ackFrom = isFinite(det) ? det : m.start;
    if (isFinite(m.acked)) band(ackFrom, m.acked, '#f6e7a6', 'acknowledged after ' + dur(m.acked - ackFrom), 'ackband');
    const fixFrom = isFinite(m.acked) ? m.acked : ackFrom;
    band(fixFrom, isFinite(m.end) ? m.end : (nowOff ? t1 - padT : Math.min(now, t1)), isFinite(m.end) ? '#cfe9d9' : '#f4d0d0',
      isFinite(m.end) ? 'resolved ' + dur(m.end - fixFrom) + ' later' : 'still open', 'fixband');

    // Nobody knew yet: the time from the first symptom to detection,
    // across every lane.
    if (isFinite(det) && det > m.start) {
      svg.append(s('rect', { class: 'gap-column', x: x(m.start), y: respY + respH, width: Math.max(x(det) - x(m.start), 2),
        height: height - respY - respH - 16, fill: 'url(#hatch)', 'fill-opacity': 0.35 }));
    }
    // Guides: first symptom, detection, now.
    const guide = (t, color, label, anchor) => {
      if (!isFinite(t) || t < t0 || t > t1) return;
      svg.append(s('line', { class: 'guide', x1: x(t), x2: x(t), y1: sevY - 2, y2: height - 4, stroke: color }));
      if (!anchor && x(t) > width - label.length * 6) anchor = 'end';
      svg.append(s('text', { x: x(t) + (anchor === 'end' ? -3 : 3), y: height - 6, 'text-anchor': anchor || 'start', 'font-size': 10, fill: color }, label));
    };
    if (isFinite(det) && x(det) - x(m.start) > 150) {
      guide(m.start, COLORS.firing, 'first symptom ' + clock(m.start, true));
      guide(det, COLORS.page, detWord + ' +' + dur(det - m.start));
    } else {
      guide(m.start, COLORS.firing, 'first symptom ' + clock(m.start, true) + (isFinite(det) ? ' · ' + detWord + ' +' + dur(det - m.start) : ''));
    }
    if (open && !nowOff) guide(now, '#333', 'now', 'end');

    // Alert bars.
    for (const lane of lanes.values()) {
      const top = lane.y + (lane.points.length ? pointRowH : 6);
      for (const f of lane.bars) {
        const a = f.start;
        const still = f.end === null;
        const b = still ? (nowOff ? t1 : Math.min(now, t1)) : f.end;
        const w = Math.max(x(b) - x(a), 4);
        const yy = top + f.row * barRowH;
        const e = f.first;
        const sev = (e.alert && e.alert.severity) || (e.labels && e.labels.severity) || '';
        const label = e.summary + (still ? ' (still firing)' : ' (resolved after ' + dur(f.end - f.start) + ')');
        svg.append(s('a', { href: '#' + e.id, 'data-entry': e.id, 'aria-label': label },
          s('title', {}, label + '\n' + clock(a, true) + (still ? '' : ' – ' + clock(f.end, true)) + (sev ? '\nseverity ' + sev : '')),
          s('rect', { class: 'bar', x: x(a), y: yy, width: w, height: barRowH - 3, rx: 2, fill: COLORS.firing, 'fill-opacity': still ? 0.65 : 0.9 })));
        if (f.resolvedEntry) {
          svg.append(s('a', { href: '#' + f.resolvedEntry.id, 'data-entry': f.resolvedEntry.id, 'aria-label': f.resolvedEntry.summary },
            s('title', {}, f.resolvedEntry.summary),
            s('rect', { class: 'mark', x: x(b) - 1.5, y: yy - 1, width: 3, height: barRowH - 1, fill: COLORS.resolved })));
        }
      }
    }

    // Point markers: deploys, pages, notes, changes.
    for (const lane of lanes.values()) {
      const cy = lane.pointY;
      for (const e of lane.points) {
        const cx = x(ms(e.at));
        const sus = suspects.get(e.id);
        const shape = marker(e, cx, cy, sus);
        const tip = clock(e.at, true) + ' ' + e.summary + (sus ? '\nsuspect ' + Math.round(sus.score * 100) + '%: ' + (sus.reasons || []).join('; ') : '') +
          ((e.reasons || []).length ? '\n' + e.reasons.join('\n') : '');
        const a = s('a', { href: '#' + e.id, 'data-entry': e.id, 'aria-label': (sus ? 'suspect: ' : '') + e.summary }, s('title', {}, tip), shape);
        if (sus && ms(e.at) < m.start) {
          // How long before the first symptom the suspect went out.
          const x2 = x(m.start);
          a.append(s('line', { x1: cx + 9, x2: x2 - 2, y1: cy, y2: cy, stroke: COLORS.suspect, 'stroke-dasharray': '2 3', 'stroke-width': 1.2 }));
          if (x2 - cx > 110) a.append(s('text', { x: (cx + x2) / 2, y: cy + 13, 'text-anchor': 'middle', 'font-size': 10, fill: COLORS.suspect }, dur(m.start - ms(e.at)) + ' before the first symptom'));
        }
        if (sus) {
          a.append(s('text', { x: cx, y: cy - 9, 'text-anchor': 'middle', 'font-size': 10, 'font-weight': 700, fill: COLORS.suspect, class: 'suspect-label' },
            'suspect ' + Math.round(sus.score * 100) + '%'));
        }
        svg.append(a);
      }
    }
    if (nowOff) {
      svg.append(s('text', { x: width - 4, y: laneTop - 2, 'text-anchor': 'end', 'font-size': 10, fill: '#333' }, 'still open; now is ' + dur(now - (t1 - padT)) + ' later →'));
    }
    return svg;
  }

  function clip(text, n) {
    n = Math.max(6, Math.floor(n));
    return text.length > n ? text.slice(0, n - 1) + '…' : text;
  }

  function marker(e, cx, cy, sus) {
    const k = e.kind || '';
    if (e.source === 'deploy') {
      const bad = /failed|rolled_back|rollback/.test(k);
      const r = sus ? 8 : 6;
      return s('path', { class: 'mark' + (sus ? ' suspect' : ''), d: `M${cx} ${cy - r} L${cx + r} ${cy} L${cx} ${cy + r} L${cx - r} ${cy} Z`,
        fill: bad ? COLORS.failed : COLORS.deploy, stroke: sus ? COLORS.suspect : '#fff', 'stroke-width': sus ? 2.5 : 1 });
    }
    if (e.source === 'pagerduty') {
      if (/acknowledged/.test(k)) return s('circle', { class: 'mark', cx, cy, r: 5.5, fill: COLORS.ack, stroke: '#fff' });
      if (/resolved/.test(k)) return s('path', { class: 'mark', d: `M${cx - 6} ${cy - 5} L${cx + 6} ${cy - 5} L${cx} ${cy + 6} Z`, fill: COLORS.resolved, stroke: '#fff' });
      const big = /triggered/.test(k);
      const r = big ? 7 : 5;
      return s('path', { class: 'mark', d: `M${cx} ${cy - r} L${cx + r} ${cy + r * 0.8} L${cx - r} ${cy + r * 0.8} Z`, fill: big ? COLORS.page : '#f0a868', stroke: '#fff' });
    }
    if (e.source === 'note') return s('rect', { class: 'mark', x: cx - 5, y: cy - 5, width: 10, height: 10, fill: COLORS.note, stroke: '#fff' });
    if (e.source === 'alertmanager') return s('circle', { class: 'mark', cx, cy, r: 5, fill: /resolved/.test(k) ? COLORS.resolved : COLORS.firing, stroke: '#fff' });
    return s('rect', { class: 'mark', x: cx - 1.5, y: cy - 8, width: 3, height: 16, fill: COLORS.change });
  }

  // ---- start ----

  const main = document.getElementById('main');
  const m = location.pathname.match(/^\/incidents\/([^/]+)\/?$/);
  if (m) incidentPage(main, decodeURIComponent(m[1]));
  else listPage(main);
})();
