// The operator token field in the header. Actions send it as
// `Authorization: Bearer`; reading does not need it unless the deployment
// closes reading.

import { token } from './api.js';
import { fill, h } from './dom.js';

export function mountTokenForm(form) {
  // Views with actions listen for this to re-enable their buttons.
  const changed = () => form.dispatchEvent(new CustomEvent('token-change', { bubbles: true }));
  const forget = () => {
    token.set('');
    draw();
    changed();
  };
  const draw = () => {
    const has = token.get() !== '';
    if (has) {
      fill(
        form,
        h(
          'span',
          { class: 'token-set', title: 'an operator token is set for this tab' },
          '🔑 operator',
        ),
        h('button', { type: 'button', onclick: forget }, 'forget'),
      );
      return;
    }
    fill(
      form,
      h('input', {
        type: 'password',
        autocomplete: 'off',
        name: 'token',
        placeholder: 'operator token',
        'aria-label': 'operator token',
        size: 16,
      }),
      h('button', { type: 'submit' }, 'use'),
    );
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const value = form.elements.token?.value.trim();
    if (value) token.set(value);
    draw();
    changed();
  });
  draw();
}
