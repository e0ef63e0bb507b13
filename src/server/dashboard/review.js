// edgewatch dashboard, review tool: a queue of unreviewed predictions (disagreements first), one click or key per label,
// "neither", the verdict of the current champion/shadow period, and "Promote shadow" with a confirm step. All text via textContent.
'use strict';
(function () {
  const REFRESH_MS = 3000;
  const { $, el, pct } = window.EwDom;
  const section = () => $('review');
  const state = { deploymentId: null, write: false, queue: [], labels: [], verdict: null, busy: false, timer: null, previous: null };

  const interval = (m) => (m.accuracy == null ? 'needs reviews of both agreements and disagreements' : `${pct(m.accuracy)} (${pct(m.low)}–${pct(m.high)})`);

  async function api(path, init) {
    const res = await fetch(path, Object.assign({ credentials: 'same-origin', headers: { accept: 'application/json' } }, init || {}));
    const body = await res.json().catch(() => null);
    if (!res.ok) throw Object.assign(new Error((body && body.message) || `HTTP ${res.status}`), { status: res.status });
    return body;
  }

  /** A write from the page: the session cookie plus the header a cross-site request cannot send (CSRF). */
  function write(path, body) {
    return api(path, { method: 'POST', headers: { accept: 'application/json', 'content-type': 'application/json', 'x-edgewatch-write': '1' }, body: JSON.stringify(body) });
  }

  function setStatus(text, bad) {
    const node = $('review-status');
    node.textContent = text;
    node.className = bad ? 'error' : 'muted';
  }

  async function refresh() {
    clearTimeout(state.timer);
    state.deploymentId = $('deployment').value || null;
    if (!state.deploymentId || $('main').hidden) {
      state.timer = setTimeout(refresh, REFRESH_MS);
      return;
    }
    const base = `/api/deployment/${encodeURIComponent(state.deploymentId)}`;
    try {
      const [access, verdict, queue] = await Promise.all([
        api('/api/dashboard/access'),
        api(`${base}/verdict`),
        api(`${base}/predictedassets?order_by=disagreements_first&review_status=TO_REVIEW&period=current&paired=true&limit=50`),
      ]);
      state.write = access.write;
      state.verdict = verdict;
      await loadPrevious(base, verdict);
      state.labels = verdict.labels;
      state.queue = queue.items;
      render(queue.count);
    } catch (err) {
      if (err.status !== 401) setStatus(`Review data unavailable (${err.message}).`, true);
    }
    state.timer = setTimeout(refresh, REFRESH_MS);
  }

  /** The verdict of the period before the current one (the one a promotion ended), fetched once per period. */
  async function loadPrevious(base, verdict) {
    const prev = verdict.periods.length >= 2 ? verdict.periods[verdict.periods.length - 2] : null;
    if (!prev) state.previous = null;
    else if (!state.previous || state.previous.key !== `${state.deploymentId}:${prev.seq}`) {
      const v = await api(`${base}/verdict?period=${prev.seq}`);
      state.previous = { key: `${state.deploymentId}:${prev.seq}`, verdict: v };
    }
  }

  function render(toReview) {
    const v = state.verdict;
    section().dataset.write = String(state.write);
    $('verdict-sentence').textContent = v.sentence;
    $('verdict-sentence').className = `verdict-sentence${v.settled ? ' settled' : ''}`;
    const p = v.paired;
    $('verdict-numbers').replaceChildren(
      el('li', {}, el('b', {}, 'champion '), interval(v.champion)),
      el('li', {}, el('b', {}, 'shadow '), interval(v.shadow)),
      el('li', {}, `only champion right ${p.onlyChampionRight} · only shadow right ${p.onlyShadowRight} · both ${p.bothRight} · neither ${p.neitherRight}`),
      el('li', {}, `exact McNemar p = ${p.pValue < 0.001 ? p.pValue.toExponential(1) : p.pValue.toFixed(3)}`),
      el('li', {}, `reviewed ${v.reviewed.disagreements} of ${v.traffic.disagreements} disagreements, ${v.reviewed.agreements} of ${v.traffic.agreements} agreements since ${v.period.reason ? new Date(v.period.since * 1000).toLocaleString() : 'the start'}`),
    );
    const name = (m) => (m ? `${m.model} ${m.name}` : 'none');
    $('review-models').textContent = `champion ${name(v.period.champion)} · shadow ${name(v.period.shadow)}`;
    const prev = state.previous && state.previous.verdict;
    $('verdict-previous').hidden = !prev;
    if (prev) $('verdict-previous').textContent = `Previous period (champion ${name(prev.period.champion)} · shadow ${name(prev.period.shadow)}, until ${new Date(prev.period.until * 1000).toLocaleString()}, ended by ${v.period.reason}): ${prev.sentence}`;
    $('promote').hidden = !state.write || !v.period.shadow;
    $('review-readonly').hidden = state.write;
    const disagreements = state.queue.filter((a) => a.agreement === false).length;
    setStatus(`${toReview} to review in this period${disagreements ? ` · ${disagreements} disagreements first` : ''}`);
    if (!state.busy) renderItem();
  }

  function renderItem() {
    const root = $('review-item');
    const item = state.queue[0];
    section().dataset.state = item ? 'ready' : 'empty';
    if (!item) {
      root.replaceChildren(el('div', { class: 'empty' }, 'Nothing left to review in this period.'));
      root.removeAttribute('data-id');
      return;
    }
    if (root.dataset.id === item.id) return;
    root.dataset.id = item.id;
    const champion = item.predictions.find((p) => !p.is_shadow);
    const shadow = item.predictions.find((p) => p.is_shadow);
    const guess = (who, p) => el('div', { class: `pred ${who}` }, el('span', { class: 'who' }, who), el('b', {}, p && p.label != null ? p.label : 'nothing'), p && p.score != null ? ` ${p.score.toFixed(2)}` : '');
    const buttons = state.labels.map((label, i) =>
      el('button', { type: 'button', class: 'label-btn', 'data-label': label, disabled: state.write ? null : 'disabled' }, i < 9 ? el('kbd', {}, String(i + 1)) : null, ` ${label}`));
    buttons.push(el('button', { type: 'button', class: 'label-btn neither', 'data-label': '', disabled: state.write ? null : 'disabled' }, el('kbd', {}, '0'), ' neither'));
    root.replaceChildren(
      el('figure', { class: `review-figure${item.agreement === false ? ' disagree' : ''}` },
        el('img', { src: `/api/image/${encodeURIComponent(item.id)}`, alt: item.data.filename }),
        el('figcaption', {}, el('div', { class: 'fname' }, item.data.filename), guess('champion', champion), guess('shadow', shadow), item.agreement === false ? el('div', { class: 'flag' }, 'disagreement') : null)),
      el('div', { class: 'label-buttons' }, buttons),
    );
  }
  async function answer(label) {
    const item = state.queue[0];
    if (!item || state.busy || !state.write) return;
    state.busy = true;
    try {
      await write(`/api/predicted/asset/${encodeURIComponent(item.id)}/reviews`, label === '' ? {} : { classifications: [{ label }] });
      state.queue.shift();
      section().dataset.reviewed = String(Number(section().dataset.reviewed || '0') + 1);
      setStatus(`Reviewed ${item.data.filename}: ${label === '' ? 'neither' : label}.`);
    } catch (err) {
      setStatus(`Review not saved: ${err.message}`, true);
      if (err.status === 409) state.queue.shift();
    } finally {
      state.busy = false;
    }
    renderItem();
    refresh();
  }

  function showConfirm() {
    const verdict = state.verdict;
    $('promote-summary').textContent = `${verdict.period.shadow.model} ${verdict.period.shadow.name} becomes the champion; the shadow slot is emptied. Verdict: ${verdict.sentence}.`;
    $('promote-confirm').hidden = false;
    $('promote').hidden = true;
  }

  async function promote() {
    const shadow = state.verdict && state.verdict.period.shadow;
    if (!shadow) return;
    try {
      await write(`/api/deployment/${encodeURIComponent(state.deploymentId)}/promote`, { shadow_model_version_id: shadow.id });
      setStatus(`Promoted ${shadow.model} ${shadow.name}: agents follow at their next poll of the deployment.`);
      section().dataset.promoted = shadow.id;
    } catch (err) {
      setStatus(`Not promoted: ${err.message}`, true);
    }
    $('promote-confirm').hidden = true;
    refresh();
  }

  function boot() {
    $('review-item').addEventListener('click', (ev) => {
      const button = ev.target.closest('button[data-label]');
      if (button) answer(button.dataset.label);
    });
    document.addEventListener('keydown', (ev) => {
      if (ev.target instanceof HTMLInputElement || ev.target instanceof HTMLSelectElement || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      if (!$('promote-confirm').hidden || $('main').hidden) return;
      if (ev.key === '0' || ev.key === 'n') answer('');
      else if (/^[1-9]$/.test(ev.key) && state.labels[Number(ev.key) - 1] !== undefined) answer(state.labels[Number(ev.key) - 1]);
      else return;
      ev.preventDefault();
    });
    $('promote').addEventListener('click', showConfirm);
    $('promote-cancel').addEventListener('click', () => {
      $('promote-confirm').hidden = true;
      $('promote').hidden = false;
    });
    $('promote-ok').addEventListener('click', promote);
    $('deployment').addEventListener('change', () => {
      $('review-item').removeAttribute('data-id');
      refresh();
    });
    refresh();
  }

  document.addEventListener('DOMContentLoaded', boot);
})();
