// The reporter's screen (the camera network): file an incident — a citizen id and a kind,
// text only. The service never handles images or biometric data.

import { h, fill, section } from './dom.js';
import { t, kindName, signed } from './i18n.js';

export function mount(root, { api, toast }) {
  const form = section('report', t('file_incident'));
  const filed = section('filed', t('filed_incidents'));
  root.append(h('div.grid', form.el, filed.el));

  const citizen = h('input#incident-citizen', { type: 'number', min: 0, step: 1, required: true, 'aria-label': t('citizen_id'), placeholder: t('citizen_id') });
  const kind = h('select#incident-kind', { 'aria-label': t('incident_kind') });
  const list = [];
  fill(form.body, h('form.stack', {
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        const incident = await api('/v1/incidents', { method: 'POST', body: { citizen: Number(citizen.value), kind: kind.value } });
        list.unshift(incident);
        toast(t('incident_filed', { id: incident.incident }));
        citizen.value = '';
      } catch (error) {
        toast(error.message, 'error');
      }
      renderFiled();
    },
  },
  h('label', { for: 'incident-citizen' }, t('citizen_id')), citizen,
  h('label', { for: 'incident-kind' }, t('incident_kind')), kind,
  h('button.primary', { type: 'submit' }, t('file')),
  h('p.muted', t('text_only'))));

  function renderFiled() {
    fill(filed.body, list.length
      ? h('ul', list.map((i) => h('li', { dataset: { incident: i.incident } },
        t('filed_line', { id: i.incident, citizen: i.citizen, kind: kindName(i.kind), penalty: signed(i.penalty) }))))
      : h('p.muted', t('none_filed')));
  }

  async function refresh() {
    const policy = await api('/v1/policy');
    const chosen = kind.value;
    fill(kind, policy.policy.incident_kinds.map((k) => h('option', { value: k.name }, `${kindName(k.name)} (−${k.penalty})`)));
    if (chosen) kind.value = chosen;
    renderFiled();
  }

  return { refresh };
}
