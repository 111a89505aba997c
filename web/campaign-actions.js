// Operator actions on the reprocessing campaign the overview shows: extend
// it with more runs, cancel it, delete it once settled. The server says why
// it refuses (an unsettled campaign to delete, a cancelled one to extend).

import { ApiError, del, post, token } from './api.js';
import { fill, h } from './dom.js';

/** The bar of actions for campaign `name` (never `prompt`); `done(name | null)` after a change. */
export function campaignActions(name, done) {
  const msg = h('span', { class: 'campaign-msg', role: 'status' });
  const say = (text, ok) => fill(msg, h('span', { class: ok ? 'ok' : 'error' }, text));
  const act = async (what, call) => {
    try {
      say(await call(), true);
      done(what === 'delete' ? null : name);
    } catch (err) {
      if (err instanceof ApiError && err.refused && !token.get())
        say(`Refused (${err.status}): enter an operator token in the header.`);
      else say(`Refused (${err.status ?? 'error'}): ${err.message}`);
    }
  };
  const runs = h('input', { type: 'text', name: 'runs', placeholder: 'runs A-B', size: 12 });
  const button = (label, title, onclick) =>
    h('button', { type: 'button', name: label.toLowerCase(), title, onclick }, label);
  return h(
    'div',
    { class: 'campaign-actions', dataset: { campaign: name } },
    `campaign ${name}: `,
    runs,
    button('Extend', 'add the ended runs of this range', () =>
      act('extend', async () => {
        const got = await post(`/api/campaigns/${encodeURIComponent(name)}/extend`, {
          runs: runs.value.trim(),
        });
        return `${got.added.length} run(s) added, ${got.campaign.runs} in all.`;
      }),
    ),
    button('Cancel', 'start nothing more and stop its queued and running jobs', () => {
      if (!window.confirm(`Cancel campaign ${name}? Its queued and running jobs are stopped.`))
        return;
      act('cancel', async () => {
        await post(`/api/campaigns/${encodeURIComponent(name)}/cancel`, {});
        return 'Cancelled: its jobs are being stopped.';
      });
    }),
    button('Delete', 'remove it from the lists once settled; its history stays', () => {
      if (!window.confirm(`Delete campaign ${name}? Its history stays.`)) return;
      act('delete', async () => {
        await del(`/api/campaigns/${encodeURIComponent(name)}`);
        return 'Deleted.';
      });
    }),
    msg,
  );
}
