// The job log viewer: the last lines of a finished job, or a live tail of a
// running one through `/api/jobs/<id>/log?follow=1` (Server-Sent Events).

import { ApiError, getText, streamUrl } from './api.js';
import { fill, h } from './dom.js';

const TAIL_LINES = 1000;
// Past this size the oldest text is dropped: a chatty job must not slow the page.
const MAX_CHARS = 400_000;

export function logViewer() {
  const title = h('span', {}, 'no job selected');
  const state = h('span', {});
  const full = h('a', { target: '_blank', rel: 'noopener', hidden: true }, 'full log ↗');
  const pre = h('pre', { class: 'log', tabindex: 0, 'aria-label': 'job log' });
  const el = h(
    'div',
    { class: 'log-view' },
    h('div', { class: 'log-bar' }, title, state, full),
    pre,
  );
  let source = null;
  let shown = null;

  const stick = () => pre.scrollHeight - pre.scrollTop - pre.clientHeight < 40;
  const appendText = (text) => {
    const atBottom = stick();
    let t = pre.textContent + text;
    if (t.length > MAX_CHARS) t = `[… earlier output dropped …]\n${t.slice(-MAX_CHARS)}`;
    pre.textContent = t;
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  };
  const stopFollow = () => {
    source?.close();
    source = null;
  };

  async function loadTail(job) {
    state.className = '';
    state.textContent = `last ${TAIL_LINES} lines`;
    try {
      pre.textContent = await getText(`/api/jobs/${job.id}/log`, { tail: TAIL_LINES });
      if (!pre.textContent) pre.textContent = '(empty log)';
      pre.scrollTop = pre.scrollHeight;
    } catch (err) {
      pre.textContent =
        err instanceof ApiError && err.status === 404
          ? '(no log yet: the job has not started or its log is gone)'
          : `(cannot read the log: ${err.message})`;
    }
  }

  function follow(job, onEnd) {
    state.className = 'tail';
    state.textContent = '● live tail';
    pre.textContent = '';
    source = new EventSource(streamUrl(`/api/jobs/${job.id}/log?follow=1&tail=${TAIL_LINES}`));
    // Each chunk is a JSON string: it keeps newlines and partial lines intact.
    const chunk = (m) => {
      let text = m.data;
      try {
        text = JSON.parse(text);
      } catch {
        // a server sending plain text: take it as it is
      }
      if (typeof text === 'string') appendText(text);
    };
    source.onmessage = chunk;
    let received = false;
    source.addEventListener('open', () => {
      received = true;
    });
    const finish = () => {
      stopFollow();
      state.className = '';
      state.textContent = 'job ended';
      // Never connected (no stream for this job): show what the file holds instead.
      if (!received) loadTail(job);
      onEnd?.();
    };
    source.addEventListener('end', finish);
    // The server closes the stream when the job ends; EventSource would reconnect and replay.
    source.onerror = finish;
  }

  return {
    el,
    /** Shows `job`'s log; a job still running is followed live. */
    show(job, { onEnd } = {}) {
      const key = `${job.id}:${job.status}`;
      if (shown === key) return;
      const wasFollowing = source !== null && shown?.startsWith(`${job.id}:`);
      shown = key;
      fill(title, h('b', {}, `job ${job.id}`), ` #${job.index} attempt ${job.attempt}`);
      full.href = `/api/jobs/${job.id}/log`;
      full.hidden = false;
      // A queued job may start any moment: follow it too, the stream waits for its log.
      if (job.status === 'running' || job.status === 'idle') {
        if (!wasFollowing) {
          stopFollow();
          follow(job, onEnd);
        }
      } else if (!wasFollowing) {
        stopFollow();
        loadTail(job);
      }
    },
    /** The job that is shown, or null. */
    get jobId() {
      return shown ? Number(shown.split(':')[0]) : null;
    },
    close: stopFollow,
  };
}
