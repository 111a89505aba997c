// The processing overview: runs as rows, tasks as columns, one server page at
// a time (a cursor), kept current by the event stream without reloading.

import { ApiError, get, overviewPage, query, tasks as taskInfo } from './api.js';
import { campaignActions } from './campaign-actions.js';
import { fill, h } from './dom.js';
import { onEvent } from './events.js';
import { FILTER_KEYS, filterForm, setCampaigns } from './filters.js';
import { buildRow, columnsOf, flash, header, legend, setCell, updateRow } from './grid.js';
import { navigate } from './router.js';

const DEFAULT_LIMIT = 100;
// Row refreshes (global status, new runs) are batched: a burst of
// transitions costs one request, while the cell itself changes at once.
const BATCH_MS = 120;

/** Older APIs answer `tasks: {name: status}`; the page works with `{status, instanceId, reason}`. */
function normalize(row) {
  const tasks = {};
  for (const [t, c] of Object.entries(row.tasks ?? {})) {
    tasks[t] = typeof c === 'string' ? { status: c } : c;
  }
  return { ...row, tasks };
}

export function mount(root) {
  let params = new URLSearchParams(location.search);
  // The cursors of the pages before this one ("previous"), kept in the
  // history entry so that they survive a reload.
  let stack = Array.isArray(history.state?.stack) ? history.state.stack : [];
  const campaign = () => params.get('campaign') || 'prompt';
  const apiParams = () => {
    const o = { limit: DEFAULT_LIMIT };
    for (const k of [...FILTER_KEYS, 'limit', 'cursor']) if (params.get(k)) o[k] = params.get(k);
    return o;
  };
  const link = (over) => `/${query({ campaign: params.get('campaign'), ...over })}`;

  const toolbar = h('div', { class: 'toolbar' });
  const banner = h('div', { class: 'banner', hidden: true, role: 'status' });
  const pager = h('div', { class: 'pager' });
  const tbody = h('tbody');
  // A cell opens its instance; with a modifier or the middle button, in a new tab.
  const open = (e) => {
    const td = e.target.closest?.('td.c[data-i]');
    if (!td || (e.type === 'auxclick' && e.button !== 1)) return;
    const url = `/instances/${td.dataset.i}`;
    if (e.type === 'auxclick' || e.ctrlKey || e.metaKey || e.shiftKey) window.open(url, '_blank');
    else navigate(url);
  };
  tbody.addEventListener('click', open);
  tbody.addEventListener('auxclick', open);
  const table = h('table', { class: 'grid' });
  const section = h(
    'section',
    { class: 'overview', dataset: { state: 'loading' } },
    toolbar,
    banner,
    h('div', { class: 'grid-wrap' }, table),
    pager,
  );
  fill(root, section);

  let cols = null;
  let rows = new Map(); // run → {tr, cells, row}, in display order
  const byInstance = new Map(); // instance id → Set<td>, for live updates
  let next = null;
  let disposed = false;
  let loadSeq = 0;

  const index = (td) => {
    const id = Number(td.dataset.i);
    if (!id) return;
    let set = byInstance.get(id);
    if (!set) {
      set = new Set();
      byInstance.set(id, set);
    }
    set.add(td);
  };
  const unindex = (td) => {
    const id = Number(td.dataset.i);
    if (id) byInstance.get(id)?.delete(td);
  };

  const show = (msg) => {
    banner.hidden = !msg;
    banner.textContent = msg ?? '';
  };

  function entries(list) {
    const out = [];
    for (const raw of list) {
      const r = normalize(raw);
      if (rows.has(r.run)) continue;
      const entry = buildRow(r, cols, link);
      for (const td of entry.cells.values()) index(td);
      out.push(entry);
    }
    return out;
  }

  /** Moves to another view of the grid in place (the filter form keeps focus). */
  function go(nextParams, nextStack) {
    const url = `/${nextParams.size ? `?${nextParams}` : ''}`;
    if (url === location.pathname + location.search) return;
    params = nextParams;
    stack = nextStack;
    history.pushState({ stack }, '', url);
    loadPage();
  }

  function drawPager() {
    const runs = [...rows.keys()];
    const cursor = params.get('cursor');
    const toPage = (c, s) => {
      const p = new URLSearchParams(params);
      if (c) p.set('cursor', c);
      else p.delete('cursor');
      go(p, s);
    };
    fill(
      pager,
      h(
        'button',
        { type: 'button', disabled: !cursor, onclick: () => toPage(null, []) },
        '⇤ newest',
      ),
      h(
        'button',
        {
          type: 'button',
          disabled: !cursor,
          onclick: () => toPage(stack.at(-1) || null, stack.slice(0, -1)),
        },
        '← previous',
      ),
      h(
        'span',
        { class: 'range' },
        runs.length === 0 ? 'no runs match' : `${runs.length} runs: ${runs[0]} … ${runs.at(-1)}`,
        viewingHead() ? h('span', { class: 'live-note' }, ' · new runs appear on top') : '',
      ),
      h(
        'button',
        { type: 'button', disabled: !next, onclick: () => toPage(next, [...stack, cursor ?? '']) },
        'next →',
      ),
      legend(),
    );
  }

  /** A reprocessing campaign shown: its operator actions beside the filters (none for prompt). */
  function syncActions() {
    const bar = toolbar.querySelector('.campaign-actions');
    if (bar?.dataset.campaign === campaign()) return;
    bar?.remove();
    if (campaign() === 'prompt') return;
    toolbar.append(
      campaignActions(campaign(), (name) => {
        if (name === null) go(new URLSearchParams(), []);
      }),
    );
  }

  async function loadPage(pending) {
    syncActions();
    const seq = ++loadSeq;
    section.dataset.state = 'loading';
    try {
      const page = await (pending ?? get('/api/overview', apiParams()));
      if (disposed || seq !== loadSeq) return;
      rows = new Map();
      byInstance.clear();
      const list = entries(page.rows);
      for (const e of list) rows.set(e.row.run, e);
      tbody.replaceChildren(...list.map((e) => e.tr));
      next = page.next ?? null;
      show(null);
      drawPager();
      section.dataset.state = 'ready';
      performance.mark('autoctrl:grid-filled');
    } catch (err) {
      if (disposed || seq !== loadSeq) return;
      section.dataset.state = 'error';
      show(
        err instanceof ApiError
          ? `The overview was refused: ${err.message} (HTTP ${err.status})`
          : `Cannot load the overview: ${err.message}`,
      );
    }
  }

  async function start() {
    // The grid's page is asked for at once, beside the task list: the
    // campaign list (slow to count on a big store) only fills a menu later.
    const first = overviewPage(apiParams());
    first.catch(() => {});
    try {
      const info = await taskInfo();
      if (disposed) return;
      cols = columnsOf(info);
      const form = filterForm(params, { tasks: cols.tasks, campaigns: [campaign()] }, (p) =>
        go(p, []),
      );
      fill(toolbar, form);
      syncActions();
      table.replaceChildren(header(cols), tbody);
      // Asked for only when someone reaches for the menu: counting every
      // campaign's progress is heavy on a big store, and most visits never change campaign.
      const select = form.elements.campaign;
      const loadCampaigns = () => {
        select.removeEventListener('pointerdown', loadCampaigns);
        select.removeEventListener('focus', loadCampaigns);
        get('/api/campaigns').then(
          (c) =>
            !disposed &&
            setCampaigns(
              form,
              c.campaigns.map((x) => x.name),
              campaign(),
            ),
          () => {},
        );
      };
      select.addEventListener('pointerdown', loadCampaigns);
      select.addEventListener('focus', loadCampaigns);
    } catch (err) {
      section.dataset.state = 'error';
      show(`Cannot load the task list: ${err.message}`);
      return;
    }
    await loadPage(first);
  }

  // ---- live updates ----
  const dirtyRuns = new Set();
  let pageDirty = false;
  let timer = null;
  const schedule = () => {
    timer ??= setTimeout(flush, BATCH_MS);
  };
  const viewingHead = () => !params.get('cursor') && params.get('sort') !== 'run_asc';

  let flushing = false;
  async function flush() {
    timer = null;
    if (disposed || !cols || section.dataset.state !== 'ready') return;
    // One refresh at a time: an older answer must not land after a newer one.
    if (flushing) return schedule();
    flushing = true;
    const runs = new Set(dirtyRuns);
    const whole = pageDirty;
    dirtyRuns.clear();
    pageDirty = false;
    try {
      if (whole) for (const run of await refreshPage()) runs.delete(run);
      if (runs.size > 0) await refreshRuns([...runs].sort((a, b) => a - b));
      if (!disposed) drawPager();
    } catch {
      // The next event brings the next refresh; a missed one is not worth a banner.
    } finally {
      flushing = false;
    }
  }

  /** Brings displayed rows up to date with `fresh` rows from the API. */
  function apply(list) {
    for (const raw of list) {
      const entry = rows.get(raw.run);
      if (!entry || disposed) continue;
      for (const td of entry.cells.values()) unindex(td);
      const changed = updateRow(entry, normalize(raw), cols, link);
      for (const td of entry.cells.values()) index(td);
      for (const td of changed) flash(td);
    }
  }

  /**
   * The page asked again, as one request: for instances the page has not
   * seen (a new run's, a new lumi block) and new runs, which then appear on
   * top of the newest page. Returns the runs it refreshed.
   */
  async function refreshPage() {
    const page = await get('/api/overview', apiParams());
    if (disposed) return [];
    apply(page.rows);
    const top = [...rows.keys()][0] ?? Number.NEGATIVE_INFINITY;
    if (viewingHead()) {
      const fresh = entries(page.rows.filter((r) => r.run > top));
      if (fresh.length > 0) {
        tbody.prepend(...fresh.map((e) => e.tr));
        rows = new Map([...fresh.map((e) => [e.row.run, e]), ...rows]);
        for (const e of fresh) flash(e.tr);
      }
    }
    return page.rows.map((r) => r.run);
  }

  /**
   * Rows whose instances changed, by run range with only the campaign: a row
   * that stops matching the filters stays in view until the next navigation
   * rather than vanishing under the cursor. Runs far apart (a filtered page
   * spans a year) are asked for in separate ranges.
   */
  async function refreshRuns(sorted) {
    const ranges = [];
    for (const run of sorted) {
      const last = ranges.at(-1);
      if (last && run - last.from < 400) last.to = run;
      else ranges.push({ from: run, to: run });
    }
    for (const r of ranges) {
      apply((await get('/api/overview', { campaign: campaign(), ...r, limit: 500 })).rows);
    }
  }

  const stop = onEvent((e) => {
    if (!cols) return;
    if (e.entity === 'instance' && (e.campaign ?? 'prompt') === campaign()) {
      const id = e.instanceId ?? Number(e.entityId);
      const tds = byInstance.get(id);
      if (tds && tds.size > 0) {
        // The cell at once; its row's global status with the next refresh.
        for (const td of tds) {
          setCell(td, e.task, { status: e.to, instanceId: id, reason: e.reason });
          flash(td);
          dirtyRuns.add(Number(td.parentElement.dataset.run));
        }
      } else {
        pageDirty = true;
      }
      schedule();
    } else if (e.entity === 'run') {
      const run = Number(e.entityId);
      if (rows.has(run)) dirtyRuns.add(run);
      else if (viewingHead() && (rows.size === 0 || run > [...rows.keys()][0])) pageDirty = true;
      else return;
      schedule();
    }
  });

  start();
  return () => {
    disposed = true;
    clearTimeout(timer);
    stop();
  };
}
