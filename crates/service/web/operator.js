// The operator's screen: the dashboard with live charts (score distribution, tiers,
// travel-banned share, expulsions and those overturned on appeal per day, GMV per day), the
// policy in force, closing the day, deciding appeals (and citizens' reports, when
// denunciation is on), and creating accounts.
//
// The operator receives few events (day closes), while orders and incidents change the
// figures at any time: the dashboard also re-reads every few seconds while it is visible.

import { h, fill, section } from './dom.js';
import { t, money, percent, kindName, signed } from './i18n.js';
import { barChart, lineChart } from './charts.js';
import { reportQueue } from './reporter.js';

const POLL_MS = 5000;

export function mount(root, { api, toast }) {
  const cards = {
    figures: section('figures', t('dashboard')),
    actions: section('actions', t('day_and_appeals')),
    scores: section('chart-scores', t('score_distribution')),
    tiers: section('chart-tiers', t('tiers')),
    banned: section('chart-banned', t('banned_share')),
    expulsions: section('chart-expulsions', t('expulsions_per_day')),
    gmv: section('chart-gmv', t('gmv_per_day')),
    policy: section('policy', t('policy_in_force')),
    accounts: section('accounts', t('accounts')),
  };
  root.append(h('div.grid', Object.values(cards).map((c) => c.el)));

  const closeButton = h('button.primary#close-day', { onclick: closeDay }, t('close_day'));
  const appeals = h('div#appeals');
  const reportsTitle = h('h3', t('reports_pending'));
  const reports = h('div#report-queue');
  fill(cards.actions.body, closeButton, h('h3', t('appeals_pending')), appeals, reportsTitle, reports);
  fill(cards.accounts.body, accountForms());

  async function closeDay() {
    closeButton.disabled = true;
    try {
      const report = await api('/v1/days/close', { method: 'POST' });
      toast(t('day_closed_report', { day: report.day, notices: report.notices_delivered, expelled: report.expelled.length }));
    } catch (error) {
      toast(error.message, 'error');
    }
    closeButton.disabled = false;
    await refresh();
  }

  async function decide(incident, granted) {
    try {
      await api(`/v1/incidents/${encodeURIComponent(incident)}/decision`, { method: 'POST', body: { granted } });
      toast(t(granted ? 'appeal_granted_done' : 'appeal_rejected_done'));
    } catch (error) {
      toast(error.message, 'error');
    }
    await refresh();
  }

  function rememberBanned(day, share) {
    const key = 'xinyong.operator.banned_share';
    let history = [];
    try { history = JSON.parse(localStorage.getItem(key)) || []; } catch { history = []; }
    history = history.filter(([d]) => d !== day && d <= day);
    history.push([day, share]);
    history.sort((a, b) => a[0] - b[0]);
    localStorage.setItem(key, JSON.stringify(history.slice(-365)));
    return history;
  }

  async function refresh() {
    const [d, charts, policy, pending, reported] = await Promise.all([
      api('/v1/operator/dashboard'), api('/v1/operator/charts'), api('/v1/policy'), api('/v1/appeals'),
      api('/v1/reports'),
    ]);
    const tot = d.totals;
    const figure = (id, label, value) => h('div.figure', { dataset: { figure: id } }, h('span.value', String(value)), h('span.label', label));
    fill(cards.figures.body, h('div.figures',
      figure('day', t('day'), d.day),
      figure('citizens', t('citizens'), d.citizens),
      figure('groups', t('groups'), `${d.groups.count} (${t('groupless_n', { n: d.groups.groupless })})`),
      figure('mean', t('mean_score'), d.score.mean == null ? '—' : Math.round(d.score.mean)),
      figure('percentiles', t('p10_p50_p90'), `${d.score.p10} / ${d.score.p50} / ${d.score.p90}`),
      figure('gini', t('gini'), d.score.gini == null ? '—' : d.score.gini.toFixed(3)),
      figure('banned', t('travel_banned'), `${d.travel_banned} (${(d.travel_banned_share * 100).toFixed(1)} %)`),
      figure('expulsions', t('expulsions'), tot.expulsions),
      figure('appeals', t('appeals_granted'), tot.appeals_granted),
      figure('orders', t('orders'), `${tot.orders} (+${d.today.orders_pending} ${t('today')})`),
      figure('gmv', t('gmv'), money(tot.gmv_fen)),
      figure('refused', t('refused_travel_orders'), tot.orders_refused_travel)),
    h('p.muted', t('innocence_note')));

    // Bins wholly below the lowest score that allows travel are drawn as banned.
    const free = policy.policy.tiers.filter((x) => !x.restrictions.includes('travel'));
    const threshold = Math.min(...free.map((x) => x.min_score ?? policy.policy.score_min));
    fill(cards.scores.body, barChart(t('score_distribution'), charts.score_histogram.bins.map((b) => ({
      label: String(b.low), value: b.citizens, className: b.high < threshold ? 'bad' : '',
    }))));
    const restricted = new Set(policy.policy.tiers.filter((x) => x.restrictions.includes('travel')).map((x) => x.name));
    fill(cards.tiers.body, barChart(t('tiers'), d.tiers_by_current_score.map((x) => ({
      label: x.tier, value: x.citizens, className: restricted.has(x.tier) ? 'bad' : '',
    }))));
    const meter = h('div.bar-fill.bad');
    meter.style.width = `${(d.travel_banned_share * 100).toFixed(2)}%`;
    fill(cards.banned.body,
      h('p.big', `${(d.travel_banned_share * 100).toFixed(1)} %`),
      h('div.progress', { role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': 1, 'aria-valuenow': d.travel_banned_share }, meter),
      lineChart(t('banned_share'), [{ name: t('banned_share'), className: 'bad', points: rememberBanned(d.day, d.travel_banned_share * 100) }],
        { format: (v) => `${v.toFixed(1)} %`, xLabel: (x) => t('day_short', { day: x }) }),
      h('p.muted', t('banned_history_note')));
    const ex = charts.expulsions_by_day;
    fill(cards.expulsions.body, ex.length
      ? lineChart(t('expulsions_per_day'), [
        { name: t('expelled'), className: 's1', points: ex.map((x) => [x.day, x.expelled]) },
        { name: t('overturned'), className: 'bad', points: ex.map((x) => [x.day, x.overturned_on_appeal]) },
      ], { xLabel: (x) => t('day_short', { day: x }) })
      : h('p.muted', t('no_days_closed')),
    h('p.muted', t('overturned_note')));
    fill(cards.gmv.body, d.history.length
      ? barChart(t('gmv_per_day'), d.history.map((x) => ({ label: t('day_short', { day: x.day }), value: x.gmv_fen / 100 })),
        { format: (v) => `¥${Math.round(v)}` })
      : h('p.muted', t('no_days_closed')));
    renderPolicy(policy);
    fill(appeals, pending.appeals.length
      ? pending.appeals.map((a) => h('article.appeal', { dataset: { incident: a.incident } },
        h('p', t('appeal_line', { id: a.incident, citizen: a.citizen, kind: kindName(a.kind), penalty: signed(a.penalty) })),
        h('div.choices',
          h('button.grant', { onclick: () => decide(a.incident, true) }, t('grant')),
          h('button.reject', { onclick: () => decide(a.incident, false) }, t('reject')))))
      : h('p.muted', t('no_appeals')));
    // Denunciation off and nothing waiting: no queue to show.
    const showReports = Boolean(policy.policy.denunciation?.enabled) || reported.reports.length > 0;
    reportsTitle.hidden = !showReports;
    reports.hidden = !showReports;
    reportQueue(reports, reported.reports, { api, toast, after: refresh });
  }

  function renderPolicy({ policy: p, in_setup: setup, scenario }) {
    const row = (k, v) => h('tr', h('th', k), h('td', v));
    fill(cards.policy.body,
      h('p', scenario ? t('scenario', { name: scenario }) : null, ' ', setup ? h('span.tag', t('in_setup')) : h('span.tag', t('locked'))),
      h('table.policy', h('tbody',
        row(t('group_sizes'), `${p.groups.min_size}–${p.groups.max_size}`),
        row(t('group_discounts'), p.group_discounts.map((x) => `${x.min_units}+ → ${percent(Math.round(x.discount * 10000))}`).join(', ')),
        row(t('sanction'), t('sanction_text', {
          expel: p.sanction.expel_reward, keep: p.sanction.keep_penalty, quorum: Math.round(p.sanction.expel_quorum * 100),
          abstain: t(`answer_${p.sanction.abstain_as}`), days: p.sanction.regroup_after_days,
        })),
        row(t('tiers'), p.tiers.map((x) => `${x.name} ≥ ${x.min_score ?? p.score_min}${x.restrictions.length ? ` (${x.restrictions.map((r) => t(`restriction_${r}`)).join(', ')})` : ''}`).join(' · ')),
        row(t('incident_kinds'), p.incident_kinds.map((k) => `${kindName(k.name)} −${k.penalty}`).join(' · ')),
        row(t('appeal_window'), t('days_n', { n: p.appeals.window_days })))),
      h('details', h('summary', t('raw_policy')), h('pre', JSON.stringify(p, null, 2))));
  }

  function accountForms() {
    const count = h('input#citizen-count', { type: 'number', min: 1, max: 10000, value: '5', 'aria-label': t('how_many') });
    const out = h('div.tokens');
    const show = (rows) => fill(out, h('p.muted', t('tokens_once')), h('table',
      h('tbody', rows.map(([who, tok]) => h('tr', h('td', who), h('td', h('code', tok)))))));
    const make = async (path, body, label) => {
      try {
        return await api(path, { method: 'POST', body });
      } catch (error) {
        toast(`${label}: ${error.message}`, 'error');
        return null;
      }
    };
    const role = h('select#account-role', { 'aria-label': t('role') },
      ['kols', 'brands', 'reporters'].map((r) => h('option', { value: r }, t(`create_${r}`))));
    const name = h('input#account-name', { 'aria-label': t('name'), placeholder: t('name'), maxlength: 200 });
    return [
      h('form.row', {
        onsubmit: async (event) => {
          event.preventDefault();
          const made = await make('/v1/citizens', { count: Number(count.value) }, t('create_citizens'));
          if (made) show(made.citizens.map((c) => [t('citizen_n', { n: c.citizen }), c.token]));
          await refresh();
        },
      }, count, h('button', { type: 'submit' }, t('create_citizens'))),
      h('form.row', {
        onsubmit: async (event) => {
          event.preventDefault();
          const made = await make(`/v1/${role.value}`, { name: name.value.trim() }, t(`create_${role.value}`));
          if (made) show([[name.value.trim(), made.token]]);
        },
      }, role, name, h('button', { type: 'submit' }, t('create'))),
      h('button#form-groups', {
        onclick: async () => {
          const made = await make('/v1/groups/form', undefined, t('form_groups'));
          if (made) toast(t('groups_formed', { groups: made.groups_created, placed: made.citizens_placed }));
          await refresh();
        },
      }, t('form_groups')),
      out,
    ];
  }

  const poll = setInterval(() => {
    if (!root.isConnected) return clearInterval(poll);
    if (document.visibilityState === 'visible') refresh().catch(() => {});
  }, POLL_MS);

  return {
    refresh,
    onEvent: (kind, data) => (kind === 'day_closed' ? t('ev_day_closed', { day: data.closed }) : null),
  };
}
