/** Modal dialogs on the page's one <dialog>: dismiss with a reason, keyboard help. */
import { $, h } from '../dom.ts';
import { nameOf, REASON_NAMES, s } from '../i18n.ts';

const dialog = () => $<HTMLDialogElement>('#dialog');

export const dialogOpen = (): boolean => dialog().open;

export function closeDialog(): void {
  if (dialog().open) dialog().close();
}

/** Ask for a dismiss reason (required) and an optional note; null when cancelled. */
export function dismissDialog(): Promise<{ reason: string; comment: string } | null> {
  const t = s();
  const d = dialog();
  return new Promise((resolve) => {
    const reason = h(
      'select',
      { id: 'dismiss-reason', 'aria-label': t.reason },
      h('option', { value: '' }, '—'),
      Object.keys(REASON_NAMES).map((k) => h('option', { value: k }, nameOf(REASON_NAMES, k))),
    );
    const note = h('textarea', { id: 'dismiss-comment', rows: 3, maxlength: 4000 });
    const msg = h('p', { class: 'flash error', role: 'alert' });
    let done = false;
    const finish = (v: { reason: string; comment: string } | null) => {
      if (done) return;
      done = true;
      d.close();
      resolve(v);
    };
    const form = h(
      'form',
      {
        method: 'dialog',
        class: 'dismiss-form',
        onsubmit: (e: Event) => {
          e.preventDefault();
          if (!reason.value) {
            msg.textContent = t.reasonRequired;
            reason.focus();
            return;
          }
          finish({ reason: reason.value, comment: note.value.trim() });
        },
      },
      h('h2', {}, t.dismissTitle),
      h('label', {}, t.reason, reason),
      h('label', {}, t.commentOptional, note),
      msg,
      h(
        'div',
        { class: 'row end' },
        h('button', { type: 'button', id: 'dismiss-cancel', onclick: () => finish(null) }, t.cancel),
        h('button', { type: 'submit', id: 'dismiss-ok', class: 'primary' }, t.confirmAction),
      ),
    );
    d.replaceChildren(form);
    d.onclose = () => finish(null);
    d.showModal();
    reason.focus();
  });
}

export function helpDialog(): void {
  const t = s();
  const d = dialog();
  if (d.open) {
    d.close();
    return;
  }
  d.onclose = null;
  d.replaceChildren(
    h(
      'div',
      { id: 'help', class: 'help' },
      h('h2', {}, t.help),
      h(
        'table',
        {},
        t.helpRows.map(([k, v]) => h('tr', {}, h('td', {}, h('kbd', {}, k)), h('td', {}, v))),
      ),
      h('div', { class: 'row end' }, h('button', { type: 'button', onclick: () => d.close() }, t.close)),
    ),
  );
  d.showModal();
}
