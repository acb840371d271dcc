// rateme ranker: the comparison view (/) and the rankings view (/rankings).
// Plain JS, no build step and no external resources; every server call goes through api().
'use strict';

(() => {
  // ---------------------------------------------------------------- shared helpers

  const $ = (sel, root = document) => root.querySelector(sel);
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const body = document.body;

  /** Element builder: h('a', {href: '/', class: 'x', onclick: fn}, 'text', child, ...). */
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v == null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c == null || c === false) continue;
      el.append(c instanceof Node ? c : String(c));
    }
    return el;
  }

  class ApiError extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
    }
  }

  /**
   * Calls the server. `body`: an object (sent as JSON) or a string (sent as is, with
   * `type`). Network failures and 502/503/504 are retried `retries` times with the very same
   * request, so a retried vote carries the same uid. Errors carry the server's message.
   */
  async function api(path, { method = 'GET', body: payload, type, retries = 0 } = {}) {
    const opts = { method, headers: {} };
    if (payload !== undefined) {
      if (typeof payload === 'string') {
        opts.body = payload;
        opts.headers['Content-Type'] = type || 'text/plain; charset=utf-8';
      } else {
        opts.body = JSON.stringify(payload);
        opts.headers['Content-Type'] = 'application/json';
      }
    }
    for (let attempt = 0; ; attempt++) {
      let res;
      try {
        res = await fetch(path, opts);
      } catch (err) {
        if (attempt < retries) {
          await sleep(250 * 2 ** attempt);
          continue;
        }
        throw new ApiError(`the ranker server cannot be reached (${err.message})`, 0);
      }
      const text = await res.text();
      let data = null;
      try {
        data = text ? JSON.parse(text) : null;
      } catch {
        data = null;
      }
      if (res.ok) return data;
      if ([502, 503, 504].includes(res.status) && attempt < retries) {
        await sleep(250 * 2 ** attempt);
        continue;
      }
      const msg = (data && data.error) || text.trim().slice(0, 200) || `${res.status} ${res.statusText}`;
      throw new ApiError(msg, res.status);
    }
  }

  /** A fresh id per vote (crypto.randomUUID needs a secure context: not a LAN address). */
  function newUid() {
    if (globalThis.crypto && typeof crypto.randomUUID === 'function') {
      try {
        return crypto.randomUUID();
      } catch {
        /* fall through */
      }
    }
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  }

  const store = {
    get(key, fallback = null) {
      try {
        const v = localStorage.getItem(key);
        return v == null ? fallback : v;
      } catch {
        return fallback;
      }
    },
    set(key, value) {
      try {
        localStorage.setItem(key, value);
      } catch {
        /* storage disabled: not remembered */
      }
    },
  };

  function toast(message, kind = 'info', ms = 2800) {
    let box = $('#toasts');
    if (!box) box = body.appendChild(h('div', { id: 'toasts', class: 'toasts' }));
    const t = h('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
    box.append(t);
    setTimeout(() => {
      t.classList.add('leaving');
      setTimeout(() => t.remove(), 350);
    }, ms);
    return t;
  }

  const short = (name, n = 48) => (name.length > n ? `…${name.slice(-(n - 1))}` : name);
  const quote = (name) => `“${short(name)}”`;

  const EXPORTS = [
    ['export-rankings-csv', '/export/rankings.csv', 'rankings.csv', 'Rankings (CSV)',
      'Image, ELO (μ), Uncertainty (σ), Upvotes, Downvotes: the original format'],
    ['export-comparisons-csv', '/export/comparisons.csv', 'comparisons.csv', 'Comparisons (CSV)',
      'Winner,Loser; None,<image> marks a removed image. Import it back here.'],
    ['export-rankings-json', '/export/rankings.json', 'rankings.json', 'Rankings (JSON)',
      'Every image with μ, σ, μ − 3σ, counts and state'],
    ['export-comparisons-json', '/export/comparisons.json', 'comparisons.json', 'Comparisons (JSON)',
      'Every vote with its rater and time, and the removals'],
    ['export-manifest-mu', '/export/manifest.csv?score=mu', 'manifest-mu.csv', 'Training manifest, score μ',
      'A ratings table for rateme training'],
    ['export-manifest-conservative', '/export/manifest.csv?score=conservative', 'manifest-conservative.csv',
      'Training manifest, score μ − 3σ', 'The same, scored conservatively'],
  ];

  function renderExports() {
    for (const box of document.querySelectorAll('.exports')) {
      box.replaceChildren(
        h('ul', null, EXPORTS.map(([id, href, file, label, note]) =>
          h('li', null, h('a', { id, href, download: file }, label), h('small', null, note)))),
      );
    }
  }

  /** Closes open <details> menus on a click elsewhere or Escape. */
  function wireMenus() {
    document.addEventListener('click', (e) => {
      for (const m of document.querySelectorAll('details.menu[open]')) {
        if (!m.contains(e.target)) m.open = false;
      }
    });
    document.addEventListener('keydown', (e) => {
      if (e.key !== 'Escape') return;
      for (const m of document.querySelectorAll('details.menu[open]')) m.open = false;
    });
  }

  function showFolder(folder) {
    const el = $('#folder');
    if (!el || !folder) return;
    // The `rtl` direction keeps the tail of a long path visible; the mark keeps slashes in order.
    el.textContent = `\u200e${folder}\u200e`;
    el.title = folder;
  }

  /** Keys typed into a field (or choosing in a select) are not commands. */
  function isTyping(target) {
    if (!target || !(target instanceof Element)) return false;
    if (target.isContentEditable) return true;
    const tag = target.tagName;
    if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
    if (tag !== 'INPUT') return false;
    const type = (target.getAttribute('type') || 'text').toLowerCase();
    return !['checkbox', 'radio', 'button', 'submit', 'reset', 'range', 'color', 'file'].includes(type);
  }

  // ---------------------------------------------------------------- comparison view

  function comparePage() {
    const stage = $('#stage');
    const raterInput = $('#rater');
    const modeSelect = $('#mode');
    const autoShuffle = $('#auto-shuffle');
    const quad = $('#quad');

    const S = {
      state: null, // last /api/state
      items: [], // the images on screen
      size: store.get('rateme.ranker.size') === '4' ? 4 : 2,
      busy: true, // true from a vote/undo until the next images are on screen
      gen: 0, // bumps on every load; stale answers are dropped
      timer: 0,
      shown: 0,
      names: new Map(), // id -> name, for toasts
    };

    raterInput.value = store.get('rateme.ranker.rater', '');
    quad.checked = S.size === 4;
    const rater = () => raterInput.value.trim() || 'anonymous';

    function setBusy(b) {
      S.busy = b;
      body.dataset.busy = b ? '1' : '0';
      stage.classList.toggle('busy', b);
    }

    function setView(view) {
      body.dataset.view = view;
    }

    function renderProgress() {
      const st = S.state;
      if (!st) return;
      const done = st.comparisons ?? 0;
      const planned = st.planned ?? 0;
      $('#progress-text').textContent = `${done} / ${planned}`;
      const pct = planned > 0 ? Math.min(100, (100 * done) / planned) : 0;
      $('#progress-fill').style.width = `${pct}%`;
      $('#progress-bar').setAttribute('aria-valuenow', String(Math.round(pct)));
    }

    function renderState(st) {
      S.state = st;
      renderProgress();
      showFolder(st.folder);
      if (st.mode && document.activeElement !== modeSelect) modeSelect.value = st.mode;
      autoShuffle.checked = !!st.auto_shuffle;
      body.classList.toggle('mode-original', st.mode === 'original');
      const notice = $('#notice');
      const bad = (st.unreadable || []).length;
      const excluded = st.loading || !st.mode ? 0 : Math.max(0, st.images - bad - st.active);
      const parts = [];
      if (bad) parts.push(`${bad} unreadable`);
      if (excluded) parts.push(`${excluded} excluded or removed`);
      notice.hidden = parts.length === 0;
      notice.replaceChildren(parts.length ? h('a', { href: '/rankings' }, parts.join(', ')) : '');
    }

    function message(cls, title, ...content) {
      S.items = [];
      stage.className = 'stage message';
      stage.replaceChildren(h('div', { class: `panel ${cls}` }, h('h2', null, title), ...content));
    }

    function showLoading(loading) {
      setView('loading');
      const { done = 0, total = 0 } = loading || {};
      const pct = total > 0 ? (100 * done) / total : 0;
      message('loading',
        total > 0 ? `Loading images ${done} / ${total}…` : 'Loading images…',
        h('div', { class: 'bar' }, h('div', { class: 'fill', style: `width:${pct}%` })),
        h('p', null, 'Each image is checked once; a large folder takes a moment.'));
    }

    function showDone(st) {
      setView('done');
      let text;
      let more = null;
      if (!st.images) text = 'There are no images in this folder.';
      else if ((st.active ?? 0) < 2) text = 'Fewer than two images are active: include some again in the rankings.';
      else {
        text = st.mode === 'elimination'
          ? 'Sequential elimination is finished: one image is left standing.'
          : `All ${st.planned} planned comparisons are done.`;
        more = 'More comparisons sharpen the ranking: pick another mode, or start over.';
      }
      message('done', 'Nothing left to compare',
        h('p', null, text),
        more && h('p', null, more),
        h('div', { class: 'actions' },
          h('a', { class: 'button primary', href: '/rankings' }, 'See the rankings'),
          h('button', { type: 'button', onclick: () => loadNext() }, 'Check again')));
    }

    function showError(err) {
      setView('error');
      message('error', 'Something went wrong',
        h('p', null, err.message || String(err)),
        h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => loadNext() }, 'Try again')));
      setBusy(false);
    }

    function card(item, index, count) {
      const key = count === 2 ? ['←', '→'][index] : String(index + 1);
      const img = h('img', { src: item.url, alt: item.name, draggable: 'false', decoding: 'async' });
      const box = h('div', {
        class: 'imgbox loading',
        title: `Pick this one (${key})`,
        onclick: () => vote(item.id),
      }, img);
      img.addEventListener('load', () => box.classList.remove('loading'));
      img.addEventListener('error', () => {
        box.classList.remove('loading');
        box.append(h('div', { class: 'img-error' }, 'This image could not be shown. Skip it (↓) or exclude it.'));
      });
      return h('figure', { class: 'card', dataset: { id: item.id } },
        box,
        h('figcaption', null,
          h('kbd', null, key),
          h('span', { class: 'name', title: item.name }, item.name),
          h('button', {
            type: 'button', class: 'mini', 'data-act': 'exclude',
            title: 'Leave this image out of the pairs (reversible in the rankings)',
            onclick: () => imageAction(item, 'exclude'),
          }, 'exclude'),
          h('button', {
            type: 'button', class: 'mini danger', 'data-act': 'remove',
            title: 'Remove this image (recorded as removed in the comparisons CSV)',
            onclick: () => imageAction(item, 'remove'),
          }, 'remove')));
    }

    function showItems(items) {
      S.items = items;
      for (const it of items) S.names.set(it.id, it.name);
      const n = items.length;
      stage.className = `stage n${Math.min(n, 4)}`;
      stage.replaceChildren(...items.map((it, i) => card(it, i, n)));
      setView('compare');
      S.shown += 1;
      body.dataset.shown = String(S.shown);
      setBusy(false);
    }

    async function refreshState() {
      const st = await api('/api/state', { retries: 2 });
      renderState(st);
      return st;
    }

    /** Shows the next images (or the loading / done state). */
    async function loadNext() {
      const gen = ++S.gen;
      clearTimeout(S.timer);
      setBusy(true);
      try {
        const [st, res] = await Promise.all([
          refreshState(),
          api(`/api/next?rater=${encodeURIComponent(rater())}&size=${S.size}`, { retries: 2 }),
        ]);
        if (gen !== S.gen) return;
        if (st.error) throw new Error(`the folder could not be loaded: ${st.error}`);
        const items = res.items || [];
        if (items.length >= 2) {
          showItems(items);
        } else if (res.done || items.length === 1) { // one image alone cannot be compared
          showDone(st);
          setBusy(false);
        } else {
          showLoading(st.loading);
          S.timer = setTimeout(() => gen === S.gen && loadNext(), 400);
        }
      } catch (err) {
        if (gen === S.gen) showError(err);
      }
    }

    async function vote(winner) {
      if (S.busy || S.items.length < 2) return;
      setBusy(true);
      const items = S.items.map((it) => it.id);
      if (winner != null) stage.querySelector(`.card[data-id="${winner}"]`)?.classList.add('picked');
      const request = { uid: newUid(), rater: rater(), items, winner };
      try {
        const res = await api('/api/vote', { method: 'POST', body: request, retries: 4 });
        if (S.state && typeof res.comparisons === 'number') {
          S.state.comparisons = res.comparisons;
          renderProgress();
        }
      } catch (err) {
        toast(`Vote not saved: ${err.message}`, 'error', 5000);
        stage.querySelector('.card.picked')?.classList.remove('picked');
        if (err.status >= 400 && err.status < 500) {
          await loadNext(); // e.g. an image was removed meanwhile: show fresh ones
        } else {
          setBusy(false); // the same images stay; the next try sends a new vote
        }
        return;
      }
      await loadNext();
    }

    function describe(undone) {
      const name = (id) => quote(S.names.get(id) ?? `image ${id}`);
      const items = undone.items || [];
      if (undone.winner == null) return `Undone: skip of ${items.map(name).join(' / ')}`;
      const losers = items.filter((id) => id !== undone.winner);
      if (losers.length === 1) return `Undone: ${name(undone.winner)} over ${name(losers[0])}`;
      return `Undone: ${name(undone.winner)} as best of ${items.length}`;
    }

    async function undo() {
      if (S.busy) return;
      setBusy(true);
      let res;
      try {
        res = await api('/api/undo', { method: 'POST', body: { rater: rater() } });
      } catch (err) {
        toast(`Undo failed: ${err.message}`, 'error', 5000);
        setBusy(false);
        return;
      }
      if (!res || !res.undone) {
        toast('Nothing to undo');
        setBusy(false);
        return;
      }
      toast(describe(res.undone));
      // Show the undone images again, so that they can be judged anew.
      const gen = ++S.gen;
      clearTimeout(S.timer);
      try {
        await refreshState();
      } catch {
        /* the progress stays as it was */
      }
      if (gen !== S.gen) return;
      const again = (res.undone.items || []).map((id) => ({
        id, name: S.names.get(id) ?? `image ${id}`, url: `/img/${id}`,
      }));
      if (again.length >= 2) showItems(again);
      else await loadNext();
    }

    async function imageAction(item, action) {
      if (S.busy) return;
      if (action === 'remove' && !confirm(
        `Remove ${quote(item.name)} from the ranking?\n\nIt is recorded as removed (None,${item.name}) ` +
        'in the comparisons CSV. To only leave it out for now, use exclude.')) return;
      setBusy(true);
      try {
        await api(`/api/images/${item.id}/${action}`, { method: 'POST', body: { rater: rater() } });
        toast(action === 'exclude'
          ? `Excluded ${quote(item.name)} (include it again in the rankings)`
          : `Removed ${quote(item.name)}`);
      } catch (err) {
        toast(`Could not ${action} ${quote(item.name)}: ${err.message}`, 'error', 5000);
      }
      await loadNext();
    }

    async function settings(change) {
      try {
        await api('/api/settings', { method: 'POST', body: change });
      } catch (err) {
        toast(`Setting not changed: ${err.message}`, 'error', 5000);
      }
      await loadNext();
    }

    // Keyboard: ←/→ pick in pairs, 1–4 pick, ↓ skips, Backspace undoes.
    document.addEventListener('keydown', (e) => {
      if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
      if (isTyping(e.target)) return;
      const n = S.items.length;
      let act = null;
      if (e.key === 'ArrowLeft' && n === 2) act = () => vote(S.items[0].id);
      else if (e.key === 'ArrowRight' && n === 2) act = () => vote(S.items[1].id);
      else if (/^[1-9]$/.test(e.key) && Number(e.key) <= n) {
        const i = Number(e.key) - 1;
        act = () => vote(S.items[i].id);
      } else if (e.key === 'ArrowDown' && n >= 2) act = () => vote(null);
      else if (e.key === 'Backspace') act = () => undo();
      else if ((e.key === 'ArrowLeft' || e.key === 'ArrowRight') && n > 2) {
        e.preventDefault();
        if (!e.repeat) toast('Best of four: pick with 1–4');
        return;
      }
      if (!act) return;
      e.preventDefault();
      if (e.repeat) return; // a held key votes once
      act();
    });

    raterInput.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === 'Escape') raterInput.blur();
    });
    raterInput.addEventListener('change', () => {
      store.set('rateme.ranker.rater', raterInput.value.trim());
      toast(`Voting as ${quote(rater())}`);
    });

    modeSelect.addEventListener('change', () => {
      modeSelect.blur(); // so that the arrow keys vote again
      settings({ mode: modeSelect.value });
    });
    autoShuffle.addEventListener('change', () => {
      autoShuffle.blur();
      settings({ auto_shuffle: autoShuffle.checked });
    });
    $('#shuffle').addEventListener('click', async (e) => {
      e.currentTarget.blur();
      try {
        await api('/api/shuffle', { method: 'POST' });
        toast('Shuffled: similar scores and rarely seen images first');
      } catch (err) {
        toast(`Shuffle failed: ${err.message}`, 'error', 5000);
      }
      await loadNext();
    });
    quad.addEventListener('change', () => {
      quad.blur();
      S.size = quad.checked ? 4 : 2;
      store.set('rateme.ranker.size', String(S.size));
      loadNext();
    });

    $('#start-over').addEventListener('click', async (e) => {
      e.currentTarget.blur();
      if (!confirm('Start over?\n\nEvery score goes back to the start; the votes stay in the history ' +
        '(and in the exported comparisons until replaced).')) return;
      try {
        await api('/api/start-over', { method: 'POST', body: { rater: rater() } });
        toast('Started over');
      } catch (err) {
        toast(`Start over failed: ${err.message}`, 'error', 5000);
      }
      await loadNext();
    });

    $('#import-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const file = $('#import-file').files[0];
      const mode = new FormData(e.currentTarget).get('import-mode') || 'append';
      const result = $('#import-result');
      if (!file) return;
      if (mode === 'replace' && !confirm('Replace every comparison so far with the file\'s?')) return;
      const button = $('#import-submit');
      button.disabled = true;
      result.textContent = 'Importing…';
      try {
        const text = await file.text();
        const res = await api(`/import/comparisons?mode=${mode}&rater=${encodeURIComponent(rater())}`, {
          method: 'POST', body: text, type: 'text/csv',
        });
        result.textContent = `Imported ${res.imported} rows` + (res.skipped ? `, skipped ${res.skipped}` : '') + '.';
        toast(`Imported ${res.imported} comparisons from ${quote(file.name)}`);
      } catch (err) {
        result.textContent = `Import failed: ${err.message}`;
      } finally {
        button.disabled = false;
      }
      await loadNext();
    });

    loadNext();
  }

  // ---------------------------------------------------------------- rankings view

  function rankingsPage() {
    const R = {
      rows: [],
      state: null,
      sort: { key: store.get('rateme.ranker.sort-by', 'fit_mu'), dir: Number(store.get('rateme.ranker.dir', '-1')) || -1 },
      online: store.get('rateme.ranker.online', 'false') === 'true',
      filter: '',
    };
    const tbody = $('#rows');
    const fmt = (x) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(2) : '–');
    const BROKEN = new Set(['unreadable', 'missing']);

    function compare(a, b) {
      const { key, dir } = R.sort;
      let c;
      if (key === 'name' || key === 'state') c = String(a[key]).localeCompare(String(b[key]), undefined, { numeric: true });
      else c = (a[key] ?? 0) - (b[key] ?? 0);
      return dir * c || b.fit_mu - a.fit_mu || a.id - b.id;
    }

    function renderSummary() {
      const st = R.state;
      const count = (s) => R.rows.filter((r) => r.state === s).length;
      const parts = [`${R.rows.length} images`, `${count('active')} active`];
      if (count('excluded')) parts.push(`${count('excluded')} excluded`);
      if (count('removed')) parts.push(`${count('removed')} removed`);
      const broken = R.rows.filter((r) => BROKEN.has(r.state)).length;
      if (broken) parts.push(`${broken} unreadable`);
      if (st) {
        parts.push(`${st.comparisons} comparisons`);
        if (st.mode) parts.push(`mode ${st.mode}`);
        if (st.prior) parts.push(`prior: ${st.prior.run.split('/').filter(Boolean).pop()} (r ${st.prior.correlation.toFixed(2)})`);
        showFolder(st.folder);
      }
      $('#summary').textContent = parts.join(' · ');
    }

    function actions(row) {
      const b = (act, label, cls = 'mini') =>
        h('button', { type: 'button', class: cls, 'data-act': act, 'data-id': row.id }, label);
      if (row.state === 'active') return [b('exclude', 'exclude'), b('remove', 'remove', 'mini danger')];
      if (row.state === 'excluded') return [b('include', 'include'), b('remove', 'remove', 'mini danger')];
      return []; // removed (recorded as None,<image>; the original app has no way back either)
    }

    function renderTable() {
      for (const th of document.querySelectorAll('#rankings th[data-sort]')) {
        th.setAttribute('aria-sort', th.dataset.sort === R.sort.key
          ? (R.sort.dir < 0 ? 'descending' : 'ascending') : 'none');
      }
      const rows = R.rows.filter((r) => !BROKEN.has(r.state));
      // The rank follows the score the table is sorted by: the fitted score unless the
      // conservative one or the online TrueSkill values.
      const rankKey = { fit_conservative: 'fit_conservative', mu: 'mu', sigma: 'mu', conservative: 'conservative' }[R.sort.key] || 'fit_mu';
      $('#rankings').classList.toggle('show-online', R.online);
      $('#rankings').classList.toggle('has-prior', Boolean(R.state && R.state.prior));
      // Removed images keep their scores but take no rank.
      const ranked = rows.filter((r) => r.state !== 'removed');
      const rank = new Map(ranked.sort((a, b) => b[rankKey] - a[rankKey] || a.id - b.id).map((r, i) => [r.id, i + 1]));
      const needle = R.filter.toLowerCase();
      const shown = rows.filter((r) => !needle || r.name.toLowerCase().includes(needle)).sort(compare);
      if (!shown.length) {
        tbody.replaceChildren(h('tr', null, h('td', { colspan: 14, class: 'empty' },
          rows.length ? 'No image matches.' : 'No images yet.')));
        return;
      }
      tbody.replaceChildren(...shown.map((r) => h('tr', { class: `state-${r.state}`, dataset: { id: r.id } },
        h('td', { class: 'num rank' }, rank.get(r.id) ?? '–'),
        h('td', { class: 'thumb' }, h('a', { href: r.url, target: '_blank', rel: 'noopener', title: 'Open the image' },
          h('img', { src: r.thumb, alt: '', loading: 'lazy', width: 56, height: 56 }))),
        h('td', { class: 'name', title: r.name }, h('a', { href: r.url, target: '_blank', rel: 'noopener' }, r.name)),
        h('td', { class: 'num score', dataset: { value: r.fit_mu } }, fmt(r.fit_mu)),
        h('td', { class: 'num score-sd', dataset: { value: r.fit_sigma } }, fmt(r.fit_sigma)),
        h('td', { class: 'num score-conservative', dataset: { value: r.fit_conservative } }, fmt(r.fit_conservative)),
        h('td', { class: 'num prior', dataset: { value: r.prior_mu ?? '' },
          title: r.prior_score != null ? `model score ${r.prior_score.toFixed(3)}, ± ${fmt(r.prior_sigma)}` : 'no model score' },
          fmt(r.prior_mu)),
        h('td', { class: 'num online mu', dataset: { value: r.mu } }, fmt(r.mu)),
        h('td', { class: 'num online sigma', dataset: { value: r.sigma } }, fmt(r.sigma)),
        h('td', { class: 'num opt comparisons' }, r.comparisons),
        h('td', { class: 'num opt up' }, r.up),
        h('td', { class: 'num opt down' }, r.down),
        h('td', { class: 'state' }, h('span', { class: `badge ${r.state}` }, r.state)),
        h('td', { class: 'actions' }, actions(r)))));
    }

    function renderUnreadable() {
      const problems = new Map();
      for (const u of (R.state && R.state.unreadable) || []) problems.set(u.id, u);
      for (const r of R.rows) {
        if (BROKEN.has(r.state) && !problems.has(r.id)) {
          problems.set(r.id, { id: r.id, name: r.name, problem: r.state === 'missing' ? 'missing from the folder' : 'unreadable' });
        }
      }
      const list = [...problems.values()].sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
      $('#unreadable').hidden = list.length === 0;
      $('#unreadable-rows').replaceChildren(...list.map((u) => h('tr', { dataset: { id: u.id } },
        h('td', { class: 'name' }, u.name), h('td', { class: 'problem' }, u.problem))));
    }

    function render() {
      renderSummary();
      renderTable();
      renderUnreadable();
    }

    async function load() {
      try {
        const [rk, st] = await Promise.all([api('/api/rankings', { retries: 2 }), api('/api/state', { retries: 2 })]);
        R.state = st;
        if (st.loading) {
          body.dataset.view = 'loading';
          const { done = 0, total = 0 } = st.loading;
          tbody.replaceChildren(h('tr', null, h('td', { colspan: 14, class: 'empty' },
            total ? `Loading images ${done} / ${total}…` : 'Loading images…')));
          setTimeout(load, 500);
          return;
        }
        R.rows = rk.rows || [];
        render();
        body.dataset.view = 'table';
      } catch (err) {
        body.dataset.view = 'error';
        if (err.status === 503) {
          setTimeout(load, 500); // still loading the folder
          return;
        }
        tbody.replaceChildren(h('tr', null, h('td', { colspan: 14, class: 'empty' }, `Could not load the rankings: ${err.message}`)));
      }
    }

    for (const th of document.querySelectorAll('#rankings th[data-sort]')) {
      th.querySelector('button').addEventListener('click', () => {
        const key = th.dataset.sort;
        if (R.sort.key === key) R.sort.dir = -R.sort.dir;
        else R.sort = { key, dir: key === 'name' || key === 'state' ? 1 : -1 };
        store.set('rateme.ranker.sort-by', R.sort.key);
        store.set('rateme.ranker.dir', String(R.sort.dir));
        renderTable();
      });
    }

    const onlineBox = $('#show-online');
    onlineBox.checked = R.online;
    onlineBox.addEventListener('change', () => {
      R.online = onlineBox.checked;
      store.set('rateme.ranker.online', String(R.online));
      if (!R.online && (R.sort.key === 'mu' || R.sort.key === 'sigma')) R.sort = { key: 'fit_mu', dir: -1 };
      renderTable();
    });

    tbody.addEventListener('click', async (e) => {
      const button = e.target.closest('button[data-act]');
      if (!button) return;
      const id = Number(button.dataset.id);
      const act = button.dataset.act;
      const row = R.rows.find((r) => r.id === id);
      const name = row ? row.name : `image ${id}`;
      if (act === 'remove' && !confirm(`Remove ${quote(name)} from the ranking?\n\nIt is recorded as removed ` +
        `(None,${name}) in the comparisons CSV. To only leave it out for now, use exclude.`)) return;
      button.disabled = true;
      try {
        await api(`/api/images/${id}/${act}`, { method: 'POST', body: {} });
        toast(`${act === 'include' ? 'Included' : act === 'exclude' ? 'Excluded' : 'Removed'} ${quote(name)}`);
      } catch (err) {
        toast(`Could not ${act} ${quote(name)}: ${err.message}`, 'error', 5000);
      }
      await load();
    });

    $('#filter').addEventListener('input', (e) => {
      R.filter = e.target.value.trim();
      renderTable();
    });
    $('#refresh').addEventListener('click', load);
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') load();
    });
    load();
  }

  // ---------------------------------------------------------------- start

  renderExports();
  wireMenus();
  if (body.dataset.page === 'compare') comparePage();
  else if (body.dataset.page === 'rankings') rankingsPage();
})();
