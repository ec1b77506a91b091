// The brand's screen: its catalogue (and adding a product), the orders of its products and
// the discounts it granted: group discounts (the pools) and credit-tier discounts.

import { h, fill, section } from './dom.js';
import { t, money } from './i18n.js';
import { barChart } from './charts.js';

export function mount(root, { api, toast }) {
  const cards = {
    totals: section('brand-totals', t('brand_totals')),
    catalogue: section('catalogue', t('catalogue')),
    add: section('add-product', t('add_product')),
  };
  root.append(h('div.grid', Object.values(cards).map((c) => c.el)));

  const name = h('input#product-name', { required: true, maxlength: 200, 'aria-label': t('product_name'), placeholder: t('product_name') });
  const price = h('input#product-price', {
    type: 'number', min: '0.01', step: '0.01', required: true, 'aria-label': t('price_yuan'), placeholder: t('price_yuan'),
  });
  const travel = h('input#product-travel', { type: 'checkbox' });
  fill(cards.add.body, h('form.stack', {
    onsubmit: async (event) => {
      event.preventDefault();
      const body = { name: name.value.trim(), list_price_fen: Math.round(Number(price.value) * 100), travel: travel.checked };
      try {
        await api('/v1/products', { method: 'POST', body });
        toast(t('product_added'));
        name.value = '';
        price.value = '';
        travel.checked = false;
      } catch (error) {
        toast(error.message, 'error');
      }
      await refresh();
    },
  }, name, price, h('label', travel, ' ', t('travel_ticket')), h('button.primary', { type: 'submit' }, t('add'))));

  async function refresh() {
    const me = await api('/v1/brands/me');
    const s = me.totals;
    fill(cards.totals.body,
      h('dl.stats',
        h('dt', t('orders')), h('dd#brand-orders', String(s.orders)),
        h('dt', t('units')), h('dd', String(s.units)),
        h('dt', t('revenue')), h('dd', money(s.revenue_fen)),
        h('dt', t('group_discounts_granted')), h('dd#brand-group-discounts', money(s.group_discount_fen)),
        h('dt', t('credit_discounts_granted')), h('dd', money(s.credit_discount_fen))),
      me.products.length
        ? barChart(t('revenue_by_product'), me.products.map((p) => ({ label: p.name.slice(0, 10), value: p.settled.revenue_fen / 100 })),
          { format: (v) => `¥${Math.round(v)}` })
        : null);
    fill(cards.catalogue.body, me.products.length
      ? h('div.scroll', h('table',
        h('thead', h('tr', h('th', t('product')), h('th', t('list_price')), h('th', t('today_units')),
          h('th', t('orders')), h('th', t('revenue')), h('th', t('discounts_granted')))),
        h('tbody', me.products.map((p) => h('tr', { dataset: { product: p.product } },
          h('td', p.name, p.travel ? [' ', h('span.tag.travel', t('travel_ticket'))] : null),
          h('td', money(p.list_price_fen)), h('td', String(p.pending_units)), h('td', String(p.settled.orders)),
          h('td', money(p.settled.revenue_fen)),
          h('td', money(p.settled.group_discount_fen + p.settled.credit_discount_fen + p.settled.voucher_discount_fen)))))))
      : h('p.muted', t('no_products')));
  }

  return {
    refresh,
    onEvent: (kind, data) => (kind === 'day_closed' ? t('ev_day_closed', { day: data.closed }) : null),
  };
}
