// The reporter's screen (the camera network): file an incident — a citizen id and a kind,
// text only — and decide the reports citizens filed against group-mates (denunciation for
// vouchers, when the policy enables it). The service never handles images or biometric data.

import { h, fill, section } from './dom.js';
import { t, kindName, signed } from './i18n.js';

const POLL_MS = 5000;

/**
 * The reports waiting for a decision, with Confirm / Reject (the reporter's screen and the
 * operator's). `after` runs once a decision is taken or refused.
 */
export function reportQueue(el, reports, { api, toast, after }) {
  async function decide(report, confirmed) {
    try {
      const result = await api(`/v1/reports/${encodeURIComponent(report)}/decision`, { method: 'POST', body: { confirmed } });
      toast(confirmed ? t('report_confirmed_done', { incident: result.incident ?? '' }) : t('report_rejected_done'));
    } catch (error) {
      toast(error.message, 'error');
    }
    await after();
  }
  fill(el, reports.length
    ? reports.map((r) => h('article.appeal.report', { dataset: { report: r.report } },
      h('p', t('report_line', { id: r.report, denouncer: r.denouncer, accused: r.accused, kind: kindName(r.kind), day: r.day })),
      h('div.choices',
        h('button.grant.confirm', { onclick: () => decide(r.report, true) }, t('confirm')),
        h('button.reject', { onclick: () => decide(r.report, false) }, t('reject')))))
    : h('p.muted', t('no_reports_pending')));
}

export function mount(root, { api, toast }) {
  const form = section('report', t('file_incident'));
  const filed = section('filed', t('filed_incidents'));
  const queue = section('reports', t('reports_pending'));
  const queueList = h('div#report-queue');
  fill(queue.body, h('p.muted', t('report_decision_note')), queueList);
  root.append(h('div.grid', form.el, queue.el, filed.el));

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
    const [policy, pending] = await Promise.all([api('/v1/policy'), api('/v1/reports')]);
    const chosen = kind.value;
    fill(kind, policy.policy.incident_kinds.map((k) => h('option', { value: k.name }, `${kindName(k.name)} (−${k.penalty})`)));
    if (chosen) kind.value = chosen;
    renderFiled();
    // Denunciation off and nothing waiting: no queue to show.
    queue.el.hidden = !policy.policy.denunciation?.enabled && !pending.reports.length;
    reportQueue(queueList, pending.reports, { api, toast, after: refresh });
  }

  // Citizens' reports bring no event to a reporter: re-read while visible.
  const poll = setInterval(() => {
    if (!root.isConnected) return clearInterval(poll);
    if (document.visibilityState === 'visible') refresh().catch(() => {});
  }, POLL_MS);

  return { refresh };
}
