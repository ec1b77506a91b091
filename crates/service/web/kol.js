// The KOL's screen: followers, credibility over time, promote a product today, sales
// through promotions. The service keeps only the current credibility, so its history is
// what this browser saw at each refresh (kept in localStorage, one value per day).

import { h, fill, section } from './dom.js';
import { t, money } from './i18n.js';
import { lineChart, barChart } from './charts.js';

/** Days of credibility history kept in the browser. */
const HISTORY_DAYS_MAX = 365;

export function mount(root, { api, toast }) {
  const cards = {
    stats: section('kol-stats', t('kol_stats')),
    promote: section('promote', t('promote')),
    credibility: section('credibility', t('credibility_over_time')),
    sales: section('sales', t('sales')),
  };
  root.append(h('div.grid', Object.values(cards).map((c) => c.el)));

  const select = h('select#promote-product', { 'aria-label': t('product') });
  const promoteForm = h('form.row', {
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        await api('/v1/promotions', { method: 'POST', body: { product: Number(select.value) } });
        toast(t('promoted'));
      } catch (error) {
        toast(error.message, 'error');
      }
      await refresh();
    },
  }, select, h('button.primary', { type: 'submit' }, t('promote_today')));
  const promoting = h('div');
  fill(cards.promote.body, promoteForm, promoting);

  function remember(kol, day, credibility) {
    const key = `xinyong.kol.${kol}.credibility`;
    let history = [];
    try { history = JSON.parse(localStorage.getItem(key)) || []; } catch { history = []; }
    history = history.filter(([d]) => d !== day);
    history.push([day, credibility]);
    history.sort((a, b) => a[0] - b[0]);
    history = history.slice(-HISTORY_DAYS_MAX);
    localStorage.setItem(key, JSON.stringify(history));
    return history;
  }

  async function refresh() {
    const [me, sales, products, day] = await Promise.all([
      api('/v1/kols/me'), api('/v1/kols/me/sales'), api('/v1/products'), api('/v1/days/current'),
    ]);
    const names = new Map(products.products.map((p) => [p.product, p.name]));
    fill(cards.stats.body, h('dl.stats',
      h('dt', t('followers')), h('dd#followers', String(me.followers)),
      h('dt', t('credibility_label')), h('dd#credibility-now', me.credibility.toFixed(3)),
      h('dt', t('promotions')), h('dd', String(me.promotions)),
      h('dt', t('units_sold')), h('dd#units-sold', String(me.units_sold)),
      h('dt', t('scandals_hit')), h('dd', String(me.scandals_hit))));
    const chosen = select.value;
    const today = new Set(me.promoting_today);
    fill(select, products.products.map((p) => h('option', { value: p.product, disabled: today.has(p.product) }, p.name)));
    if (chosen) select.value = chosen;
    fill(promoting, me.promoting_today.length
      ? h('p', t('promoting_today'), ' ', me.promoting_today.map((p) => h('span.tag', names.get(p) ?? `#${p}`)))
      : h('p.muted', t('not_promoting')));
    const history = remember(me.kol, day.day, me.credibility);
    fill(cards.credibility.body,
      lineChart(t('credibility_over_time'), [{ name: t('credibility_label'), className: 's1', points: history }],
        { format: (v) => v.toFixed(2), xLabel: (x) => t('day_short', { day: x }) }),
      h('p.muted', t('credibility_note')));
    fill(cards.sales.body,
      sales.days.length
        ? barChart(t('units_per_day'), sales.days.map((d) => ({ label: t('day_short', { day: d.day }), value: d.units })))
        : h('p.muted', t('no_sales')),
      sales.products.length
        ? h('div.scroll', h('table',
          h('thead', h('tr', h('th', t('product')), h('th', t('units')), h('th', t('revenue')))),
          h('tbody', sales.products.map((p) => h('tr', h('td', p.name), h('td', String(p.units)), h('td', money(p.revenue_fen)))))))
        : null);
  }

  return {
    refresh,
    onEvent: (kind, data) => (kind === 'day_closed' ? t('ev_day_closed', { day: data.closed }) : null),
  };
}
