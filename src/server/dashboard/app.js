// edgewatch dashboard: signs in, polls the stats and gallery APIs every 3 s and renders them. All text goes through textContent.
'use strict';
(function () {
  const REFRESH_MS = 3000;
  const COLORS = { champion: '#4f8cff', shadow: '#f5a524' };
  const PALETTE = ['#a371f7', '#39c5cf', '#3fb950', '#f85149', '#db61a2', '#e3b341', '#79c0ff', '#ffa657', '#8b98a9', '#56d364'];
  const { $, el, pct } = window.EwDom;
  const state = { deploymentId: null, timer: null, charts: null, images: new Map(), refreshes: 0, labelShares: [] };

  const setText = (id, text) => { $(id).textContent = text; };
  const fmtMs = (v) => (v == null ? '—' : v < 10 ? v.toFixed(1) : String(Math.round(v)));

  async function api(path, init) {
    const res = await fetch(path, Object.assign({ credentials: 'same-origin', headers: { accept: 'application/json' } }, init || {}));
    if (res.status === 401) throw Object.assign(new Error('unauthorized'), { status: 401 });
    if (!res.ok) throw Object.assign(new Error(`HTTP ${res.status}`), { status: res.status });
    return res.json();
  }

  async function signIn(body) {
    const res = await fetch('/api/dashboard/session', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return res.ok;
  }

  function showSignIn(message) {
    $('main').hidden = true;
    $('signin').hidden = false;
    setText('signin-error', message || '');
    document.body.dataset.state = 'signin';
  }

  async function boot() {
    const key = new URLSearchParams(location.hash.slice(1)).get('key');
    if (key) {
      history.replaceState(null, '', location.pathname);
      await signIn({ key });
    }
    $('signin-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const ok = await signIn({ token: $('signin-token').value });
      $('signin-token').value = '';
      if (ok) start();
      else setText('signin-error', 'That token was refused.');
    });
    $('deployment').addEventListener('change', () => {
      state.deploymentId = $('deployment').value;
      localStorage.setItem('edgewatch.deployment', state.deploymentId);
      refreshNow();
    });
    $('range').addEventListener('change', refreshNow);
    start();
  }

  async function start() {
    let overview;
    try {
      overview = await api('/api/dashboard/overview');
    } catch (err) {
      if (err.status === 401) return showSignIn();
      setLive(false, 'service unreachable');
      state.timer = setTimeout(start, REFRESH_MS);
      return;
    }
    $('signin').hidden = true;
    $('main').hidden = false;
    const select = $('deployment');
    select.textContent = '';
    const deployments = [];
    for (const org of overview.organizations) {
      const group = el('optgroup', { label: org.name });
      for (const d of org.deployments) {
        deployments.push(d);
        group.append(el('option', { value: d.id }, `${d.name}`));
      }
      select.append(group);
    }
    const saved = localStorage.getItem('edgewatch.deployment');
    state.deploymentId = deployments.some((d) => d.id === saved) ? saved : deployments[0] && deployments[0].id;
    select.value = state.deploymentId || '';
    if (!state.charts) initCharts();
    refreshNow();
  }

  function initCharts() {
    const C = window.EwCharts;
    state.charts = {
      traffic: C.timeChart($('chart-traffic'), { yLabel: 'images' }),
      agreement: C.timeChart($('chart-agreement'), { yLabel: 'agreement', yRange: [0, 1], percent: true }),
      latC: C.histogramChart($('chart-lat-champion'), { color: COLORS.champion }),
      latS: C.histogramChart($('chart-lat-shadow'), { color: COLORS.shadow }),
      labels: C.shareChart($('chart-labels')),
    };
  }

  function refreshNow() {
    clearTimeout(state.timer);
    refresh();
  }

  async function refresh() {
    if (!state.deploymentId) return;
    const q = new URLSearchParams();
    const range = Number($('range').value);
    if (range > 0) q.set('from', String(Date.now() / 1000 - range));
    const base = `/api/deployment/${encodeURIComponent(state.deploymentId)}`;
    try {
      const [stats, gallery] = await Promise.all([api(`${base}/stats?${q}`), api(`${base}/predictions?limit=24&order=disagreements-first&${q}`)]);
      render(stats, gallery);
      setLive(true, `updated ${new Date().toLocaleTimeString()}`);
      state.refreshes += 1;
      document.body.dataset.refreshes = String(state.refreshes);
      document.body.dataset.state = stats.counts.predictions > 0 ? 'ready' : 'empty';
    } catch (err) {
      if (err.status === 401) return showSignIn('Your session has expired.');
      setLive(false, `refresh failed (${err.message})`);
    }
    state.timer = setTimeout(refresh, REFRESH_MS);
  }

  function setLive(ok, text) {
    $('live').className = `live ${ok ? 'ok' : 'err'}`;
    setText('updated', text);
  }

  function render(s, gallery) {
    renderIdentity(s);
    renderKpis(s);
    renderCharts(s);
    renderConfusion(s);
    renderLabels(s);
    renderDrift(s);
    renderGallery(gallery.items);
    setText('foot', `Stats API: GET /api/deployment/${s.deployment.id}/stats · latency percentiles: ${s.latency.percentileMethod} · windows in whole minutes · PSI thresholds: < 0.1 stable, 0.1–0.25 moderate, ≥ 0.25 significant`);
  }

  function renderIdentity(s) {
    setText('dep-name', s.deployment.name);
    setText('dep-type', s.deployment.type);
    const first = (list) => (list.length ? list[0].name + (list.length > 1 ? ` (+${list.length - 1})` : '') : '—');
    setText('model-champion', first(s.models.champion));
    setText('model-shadow', first(s.models.shadow));
    setText('model-backend', first(s.models.backends));
  }

  function renderKpis(s) {
    setText('kpi-count', s.counts.predictions.toLocaleString());
    // Shadow coverage: a late shadow (sent after its champion when the shadow was behind) counts once it arrived.
    const coverage = s.counts.predictions ? ` · shadow coverage ${pct(s.counts.withShadow / s.counts.predictions)}` : '';
    // Agents that send a sample of their images: the counts below are estimates of all traffic (each image weighs 1/p).
    const sampled = s.counts.estimated !== s.counts.predictions ? ` · ≈ ${Math.round(s.counts.estimated).toLocaleString()} images estimated (sampled)` : '';
    setText('kpi-count-sub', `${s.counts.withShadow.toLocaleString()} with a shadow prediction${coverage}${sampled}`);
    setText('kpi-agree', pct(s.agreement.rate));
    const n = (x) => Math.round(x).toLocaleString();
    setText('kpi-agree-sub', `${n(s.agreement.agreed)} of ${n(s.agreement.compared)} compared`);
    const lat = (l) => (l ? `${fmtMs(l.p50Ms)} · ${fmtMs(l.p95Ms)} · ${fmtMs(l.p99Ms)}` : '—');
    const bound = `±${Math.round(s.latency.relativeError * 1000) / 10} %`;
    const sub = (l) => (l ? `ms (percentiles ${bound}) · mean ${fmtMs(l.meanMs)} · max ${fmtMs(l.maxMs)}` : 'no data');
    setText('kpi-lat-c', lat(s.latency.champion));
    setText('kpi-lat-c-sub', sub(s.latency.champion));
    setText('kpi-lat-s', lat(s.latency.shadow));
    setText('kpi-lat-s-sub', sub(s.latency.shadow));
    const psi = $('kpi-psi');
    psi.textContent = s.drift.psi == null ? '—' : s.drift.psi.toFixed(3);
    psi.className = `kpi-value status-${s.drift.status}`;
    setText('kpi-psi-sub', s.drift.psi == null ? s.drift.reason : `${s.drift.status} · windows of ${s.drift.windowSize}`);
  }

  function renderCharts(s) {
    const t = s.timeline;
    const c = state.charts;
    setText('bucket-note', t.t.length ? `(per ${t.bucketSeconds >= 3600 ? `${t.bucketSeconds / 3600} h` : t.bucketSeconds >= 60 ? `${t.bucketSeconds / 60} min` : `${t.bucketSeconds} s`})` : '');
    c.traffic.update([t.t, t.traffic, t.withShadow], [
      { label: 'images', color: COLORS.champion, bars: true },
      { label: 'with shadow', color: COLORS.shadow },
    ], 'traffic');
    c.agreement.update([t.t, t.agreementRate], [{ label: 'top-1 agreement', color: '#3fb950', fill: 'rgba(63,185,80,.12)' }], 'agreement');
    const h = s.latency.histogram;
    if (h) {
      const centers = h.champion.map((_, i) => (h.edgesMs[i] + h.edgesMs[i + 1]) / 2);
      const xRange = [h.edgesMs[0], h.edgesMs[h.edgesMs.length - 1]];
      const key = `h:${xRange.join(',')}`;
      const def = { xRange };
      c.latC.update([centers, h.champion], def, key);
      c.latS.update([centers, h.shadow], def, key);
    }
    // Champion label shares per bucket, stacked: cumulative sums, top band first.
    const shares = t.championLabels.map((counts) => counts.map((n, b) => (t.traffic[b] ? n / t.traffic[b] : null)));
    state.labelShares = shares;
    const series = s.classes.map((cl, i) => ({ label: cl.label, color: PALETTE[i % PALETTE.length], share: (b) => state.labelShares[i][b] }));
    const cumulative = [];
    let running = t.t.map(() => 0);
    for (const share of shares) {
      running = running.map((v, b) => (share[b] == null ? null : v + share[b]));
      cumulative.push(running);
    }
    c.labels.update([t.t].concat(cumulative.slice().reverse()), series, `labels:${s.classes.map((x) => x.label).join('|')}`);
  }

  function renderConfusion(s) {
    const root = $('confusion');
    if (!s.classes.length || s.agreement.compared === 0) {
      root.replaceChildren(el('div', { class: 'empty' }, 'No champion/shadow pairs yet.'));
      return;
    }
    const m = s.confusion.matrix;
    const max = Math.max(1, ...m.flat());
    const head = el('tr', {}, el('th', { class: 'corner' }, 'champion ↓ · shadow →'), s.classes.map((c) => el('th', { class: 'col', title: c.label }, c.label)));
    const rows = s.classes.map((c, i) =>
      el('tr', {}, el('th', { title: c.label }, c.label), m[i].map((v, j) => {
        const t = v / max;
        return el('td', {
          class: `cm-cell${i === j ? ' diag' : ''}`,
          title: `champion ${c.label} · shadow ${s.classes[j].label}: ${v}`,
          style: { background: v === 0 ? '' : `rgba(79, 140, 255, ${(0.15 + 0.8 * t).toFixed(3)})`, color: t > 0.55 ? '#fff' : '' },
        }, v === 0 ? '·' : v);
      })),
    );
    root.replaceChildren(el('table', {}, el('thead', {}, head), el('tbody', {}, rows)));
  }

  function renderLabels(s) {
    const root = $('labels');
    if (!s.classes.length) {
      root.replaceChildren(el('div', { class: 'empty' }, 'No predictions yet.'));
      return;
    }
    const dc = s.labelDistribution.champion;
    const ds = s.labelDistribution.shadow;
    const nc = Math.max(1, s.counts.predictions);
    const ns = Math.max(1, s.counts.withShadow);
    const max = Math.max(...dc.map((v) => v / nc), ...ds.map((v) => v / ns), 0.0001);
    const score = (v) => (v == null ? '—' : v.toFixed(2));
    const rows = s.classes.map((c, i) =>
      el('tr', {},
        el('td', {}, c.label),
        el('td', {}, el('div', { class: 'bars' },
          el('div', { class: 'bar champion', style: { width: `${(100 * dc[i]) / nc / max}%` } }),
          el('div', { class: 'bar shadow', style: { width: `${(100 * ds[i]) / ns / max}%` } }))),
        el('td', { class: 'num' }, `${dc[i]} · ${pct(dc[i] / nc, 0)}`),
        el('td', { class: 'num' }, `${ds[i]} · ${pct(ds[i] / ns, 0)}`),
        el('td', { class: 'num' }, `${score(s.meanScore.champion[i])} / ${score(s.meanScore.shadow[i])}`)));
    root.replaceChildren(el('table', {},
      el('thead', {}, el('tr', {}, el('th', {}, 'class'), el('th', {}, 'share'), el('th', { class: 'num' }, 'champion'), el('th', { class: 'num' }, 'shadow'), el('th', { class: 'num' }, 'mean score c / s'))),
      el('tbody', {}, rows)));
  }

  function renderDrift(s) {
    const d = s.drift;
    const root = $('drift');
    setText('drift-note', d.windowSize ? `(the first minutes holding ${d.windowSize} predictions vs the last ones)` : '');
    if (d.psi == null) {
      root.replaceChildren(el('div', { class: 'empty' }, `PSI: ${d.reason}.`));
      return;
    }
    const pos = Math.min(100, (d.psi / 0.5) * 100);
    const rows = d.perClass.map((c) =>
      el('tr', {}, el('td', {}, c.label), el('td', { class: 'num' }, pct(c.referenceShare)), el('td', { class: 'num' }, pct(c.recentShare)), el('td', { class: 'num' }, c.term.toFixed(4))));
    root.replaceChildren(
      el('div', { class: 'drift-head' }, el('span', { class: `psi-big status-${d.status}` }, d.psi.toFixed(3)), el('span', { class: `status-${d.status}` }, d.status)),
      el('div', { class: 'psi-scale' }, el('span'), el('span'), el('span')),
      el('div', { class: 'psi-marker' }, el('i', { style: { left: `${pos}%` } })),
      el('p', { class: 'muted' }, 'PSI = Σ (recent − reference) · ln(recent / reference) over champion label shares, ε-smoothed. Scale 0 – 0.5.'),
      el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'class'), el('th', { class: 'num' }, 'reference'), el('th', { class: 'num' }, 'recent'), el('th', { class: 'num' }, 'PSI term'))), el('tbody', {}, rows)),
    );
  }

  function predLine(kind, p) {
    return el('div', { class: `pred ${kind}` }, el('span', { class: 'who' }, kind), el('span', { class: 'what', title: p ? `${p.label} (${p.score == null ? '—' : p.score.toFixed(3)}) · ${fmtMs(p.latencyMs)} ms` : '' },
      p ? `${p.label} ${p.score == null ? '' : p.score.toFixed(2)}` : '—'));
  }

  function renderGallery(items) {
    const root = $('gallery');
    if (!items.length) {
      root.replaceChildren(el('div', { class: 'empty' }, 'No images yet.'));
      return;
    }
    const keep = new Map();
    const cards = items.map((it) => {
      let img = state.images.get(it.id);
      if (!img) img = el('img', { src: it.imageUrl, alt: it.filename, width: String(it.width), height: String(it.height) });
      keep.set(it.id, img);
      return el('figure', { class: `gallery-item${it.agree === false ? ' disagree' : ''}`, 'data-id': it.id, style: { margin: '0' } },
        img,
        el('figcaption', { class: 'meta' },
          el('div', { class: 'fname', title: it.filename }, it.filename),
          predLine('champion', it.champion),
          predLine('shadow', it.shadow),
          it.agree === false ? el('div', { class: 'flag' }, 'disagreement') : null));
    });
    state.images = keep;
    root.replaceChildren(...cards);
  }

  document.addEventListener('DOMContentLoaded', boot);
})();
