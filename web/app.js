// The client-side router: `/` overview, `/instances/<id>`, `/plots`. The
// server answers every such path with this page, so links can be shared.

import { startHealth } from './health.js';
import { navigate, setRenderer } from './router.js';
import { mountTokenForm } from './token.js';

const routes = [
  { re: /^\/$/, view: 'overview', load: () => import('./overview.js') },
  { re: /^\/instances\/(\d+)\/?$/, view: 'instance', load: () => import('./instance.js') },
  { re: /^\/plots\/?$/, view: 'plots', load: () => import('./plots.js') },
];

const root = document.getElementById('view');
let current = null;
let generation = 0;

async function render() {
  const gen = ++generation;
  current?.();
  current = null;
  const path = location.pathname;
  const route = routes.find((r) => r.re.test(path));
  for (const a of document.querySelectorAll('nav a')) {
    a.classList.toggle('active', a.dataset.view === route?.view);
  }
  if (!route) {
    root.replaceChildren(document.createTextNode(`No page at ${path}.`));
    return;
  }
  const mod = await route.load();
  // A newer navigation started while the module loaded.
  if (gen !== generation) return;
  const params = path.match(route.re).slice(1);
  current = mod.mount(root, ...params) ?? null;
}

document.addEventListener('click', (e) => {
  const a = e.target.closest?.('a[href]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/') || a.target) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener('popstate', render);
// A view refused for want of a token (`auth.read: token`) loads again once one is given.
document.addEventListener('token-change', () => {
  if (root.querySelector('[data-state=error]')) render();
});
setRenderer(render);

startHealth(document.getElementById('health'));
mountTokenForm(document.getElementById('token'));
render();
