// Client navigation without a page load; app.js registers the renderer.

let renderer = () => {};

export function setRenderer(fn) {
  renderer = fn;
}

/** Same page, new view, a history entry (or a replaced one). */
export function navigate(url, { replace = false, state = null } = {}) {
  if (replace) history.replaceState(state, '', url);
  else history.pushState(state, '', url);
  renderer();
}
