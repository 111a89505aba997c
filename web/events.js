// One EventSource for the whole page, shared by the views: the browser
// reconnects by itself and resumes with Last-Event-ID, so no transition is
// missed across a network hiccup.

import { streamUrl } from './api.js';

const listeners = new Set();
const stateListeners = new Set();
const ENTITIES = ['run', 'instance', 'job', 'campaign', 'source', 'export'];
let source = null;
let state = 'connecting';

function setState(s) {
  state = s;
  for (const f of stateListeners) f(s);
}

function connect() {
  source = new EventSource(streamUrl('/api/events/stream'));
  source.onopen = () => setState('live');
  source.onerror = () =>
    setState(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
  const deliver = (msg) => {
    let e;
    try {
      e = JSON.parse(msg.data);
    } catch {
      return;
    }
    for (const f of listeners) f(e);
  };
  // Named events (`event: instance`) do not reach onmessage.
  for (const name of ENTITIES) source.addEventListener(name, deliver);
  source.onmessage = deliver;
}

/** Calls `fn(event)` for every event of the log from now on; returns the unsubscribe. */
export function onEvent(fn) {
  if (source === null) connect();
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Calls `fn('live' | 'reconnecting' | 'closed' | 'connecting')` now and on every change. */
export function onStreamState(fn) {
  if (source === null) connect();
  stateListeners.add(fn);
  fn(state);
  return () => stateListeners.delete(fn);
}
