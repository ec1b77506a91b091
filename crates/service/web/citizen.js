// The citizen's screen: score and tier with the explanation timeline, the travel-ban
// banner, the inbox of notices (Expel / Keep, the points of each, the deadline), the shop
// with the group pool's progress to the next discount, the KOL feed, the group, reporting a
// group-mate (denunciation for vouchers, only when the policy enables it), incidents and
// appeals, orders. Everything is read from the citizen's own endpoints.

import { h, fill, section } from './dom.js';
import { t, money, percent, kindName, duration, signed } from './i18n.js';

/** Most products quoted on one refresh (one request each). */
const QUOTED_PRODUCTS_MAX = 40;

export function mount(root, { api, toast, clock }) {
  const banners = h('div#banners');
  const cards = {
    score: section('score', t('my_score')),
    inbox: section('inbox', t('inbox')),
    shop: section('shop', t('shop')),
    feed: section('feed', t('kol_feed')),
    group: section('group', t('my_group')),
    denounce: section('denounce', t('denounce')),
    timeline: section('timeline', t('timeline')),
    incidents: section('incidents', t('incidents')),
    orders: section('orders', t('my_orders')),
  };
  const nav = h('nav.chips', Object.entries(cards).map(([id, c]) => h('a', { href: `#${id}` }, c.title.textContent)));
  root.append(nav, banners, h('div.grid', Object.values(cards).map((c) => c.el)));
  const denounceChip = nav.querySelector('a[href="#denounce"]');
  cards.denounce.el.hidden = true;
  denounceChip.hidden = true;

  // The report form is built once (what is typed survives a refresh); its kinds, the note
  // and the lists are filled on each refresh.
  const accused = h('input#denounce-accused', { type: 'number', min: 0, step: 1, required: true, 'aria-label': t('accused_id'), placeholder: t('accused_id') });
  const denounceKind = h('select#denounce-kind', { 'aria-label': t('denounce_kind') });
  const denounceNote = h('p.muted.denounce-note');
  const myReports = h('div#my-reports');
  const myVouchers = h('div#my-vouchers');
  fill(cards.denounce.body,
    h('form.stack', { onsubmit: denounce },
      h('label', { for: 'denounce-accused' }, t('accused_id')), accused,
      h('label', { for: 'denounce-kind' }, t('denounce_kind')), denounceKind,
      denounceNote,
      h('button.primary', { type: 'submit' }, t('send_report'))),
    h('h3', t('my_reports')), myReports,
    h('h3', t('my_vouchers')), myVouchers);

  // Refusals of a Buy button, shown under the product until the next purchase attempt.
  const refusals = new Map();
  let last = null;

  async function buy(product, via) {
    refusals.delete(product);
    try {
      const receipt = await api('/v1/orders', { method: 'POST', body: { product, units: 1, via: via ?? null } });
      toast(t('ordered', { total: money(receipt.total_fen) }));
    } catch (error) {
      refusals.set(product, refusalText(error));
      toast(refusalText(error), 'error');
    }
    await refresh();
  }

  async function answer(incident, choice) {
    try {
      await api(`/v1/notices/${encodeURIComponent(incident)}/answer`, { method: 'POST', body: { answer: choice } });
      toast(t('answer_recorded', { answer: t(`answer_${choice}`) }));
    } catch (error) {
      toast(error.message, 'error');
    }
    await refresh();
  }

  async function appeal(incident) {
    try {
      await api(`/v1/incidents/${encodeURIComponent(incident)}/appeal`, { method: 'POST' });
      toast(t('appeal_filed'));
    } catch (error) {
      toast(error.message, 'error');
    }
    await refresh();
  }

  async function denounce(event) {
    event.preventDefault();
    try {
      const sent = await api('/v1/reports', { method: 'POST', body: { accused: Number(accused.value), kind: denounceKind.value } });
      toast(t('report_sent', { id: sent.report }));
      accused.value = '';
    } catch (error) {
      toast(error.message, 'error');
    }
    await refresh();
  }

  async function follow(kol, on) {
    try {
      await api(`/v1/kols/${kol}/follow`, { method: on ? 'POST' : 'DELETE' });
    } catch (error) {
      toast(error.message, 'error');
    }
    await refresh();
  }

  async function refresh() {
    const [profile, explanation, notices, group, pools, products, feed, kols, incidents, orders, reports, policy] = await Promise.all([
      api('/v1/citizens/me'), api('/v1/citizens/me/explanation'), api('/v1/notices'), api('/v1/groups/mine'),
      api('/v1/groups/mine/pools'), api('/v1/products'), api('/v1/feed'), api('/v1/kols'),
      api('/v1/incidents/mine'), api('/v1/orders/mine'), api('/v1/reports/mine'), api('/v1/policy'),
    ]);
    const quoted = products.products.slice(0, QUOTED_PRODUCTS_MAX);
    const quotes = await Promise.all(quoted.map((p) =>
      api('/v1/orders/quote', { method: 'POST', body: { product: p.product, units: 1 } }).catch((error) => error)));
    last = { profile, explanation, notices, group, pools, products, feed, kols, incidents, orders, quotes, reports, policy };
    render(last);
  }

  function render(d) {
    const names = new Map(d.products.products.map((p) => [p.product, p.name]));
    fill(banners, banner(d.profile));
    renderScore(d.profile);
    renderInbox(d.notices);
    renderShop(d);
    renderFeed(d);
    renderGroup(d.group);
    renderDenounce(d.reports, d.policy.policy);
    renderTimeline(d.explanation);
    renderIncidents(d.incidents);
    renderOrders(d.orders, names);
  }

  function renderScore(p) {
    fill(cards.score.body,
      h('div.score-row',
        h('div.score', { 'data-score': p.score }, String(p.score)),
        h(`div.tier.tier-${p.tier}`, { title: t('tier') }, p.tier)),
      h('p', p.next_tier
        ? t('next_tier', { tier: p.next_tier.tier, score: p.next_tier.score_needed, points: p.next_tier.points_to_go })
        : t('top_tier')),
      h('p', p.restrictions.length
        ? t('restrictions', { list: p.restrictions.map((r) => t(`restriction_${r}`)).join(', ') })
        : t('no_restrictions')),
      p.favourite_discount_bp ? h('p', t('favourite_discount', { pct: percent(p.favourite_discount_bp) })) : null,
      h('p.muted', t('tiers_move_at_close')));
  }

  function renderInbox(n) {
    if (!n.notices.length) {
      fill(cards.inbox.body, h('p.muted', t('no_notices')));
      return;
    }
    fill(cards.inbox.body, n.notices.map((notice) => {
      const answered = notice.answer != null;
      return h('article.notice', { dataset: { incident: notice.incident } },
        h('p.what', t('notice_text', { offender: notice.offender, kind: kindName(notice.kind) })),
        h('p.deadline', { dataset: { deadline: notice.deadline } }, deadlineText(notice.deadline)),
        h('div.choices',
          h('button.expel', { disabled: answered, onclick: () => answer(notice.incident, 'expel') },
            t('expel'), ' ', h('span.points', signed(notice.expel_points))),
          h('button.keep', { disabled: answered, onclick: () => answer(notice.incident, 'keep') },
            t('keep'), ' ', h('span.points', signed(notice.keep_points)))),
        answered
          ? h('p.answered', t('you_answered', {
            answer: t(`answer_${notice.answer}`),
            points: signed(notice.answer === 'expel' ? notice.expel_points : notice.keep_points),
          }))
          : h('p.muted', t('unanswered_counts', { answer: t(`answer_${notice.unanswered_counts_as}`) })));
    }));
  }

  function deadlineText(deadline) {
    if (clock.closesAt && clock.dayLengthMs && clock.day != null) {
      const left = clock.closesAt - Date.now() + (deadline - clock.day) * clock.dayLengthMs;
      return t('deadline_countdown', { day: deadline, time: duration(left) });
    }
    const closes = clock.day == null ? null : deadline - clock.day;
    return closes === 0 ? t('deadline_today', { day: deadline }) : t('deadline_day', { day: deadline });
  }

  // The countdowns tick without a refresh.
  const ticker = setInterval(() => {
    if (!root.isConnected) return clearInterval(ticker);
    for (const el of root.querySelectorAll('.deadline[data-deadline]')) {
      el.textContent = deadlineText(Number(el.dataset.deadline));
    }
  }, 1000);

  function renderShop(d) {
    const { pools } = d;
    const byProduct = new Map(pools.pools.map((p) => [p.product, p]));
    const first = pools.tiers[0];
    const items = d.products.products.map((p, i) => {
      const pool = byProduct.get(p.product);
      const units = pool?.units ?? 0;
      const next = pool ? pool.next_tier : first ? { units_needed: first.min_units, discount_bp: first.discount_bp } : null;
      const quote = d.quotes[i];
      const refusal = refusals.get(p.product);
      return h('article.product', { dataset: { product: p.product } },
        h('div.product-head',
          h('strong', p.name), p.travel ? h('span.tag.travel', t('travel_ticket')) : null,
          h('span.price', money(p.list_price_fen))),
        p.brand_name ? h('p.muted', p.brand_name) : null,
        pools.group == null ? h('p.muted', t('no_group_list_price')) : progress(units, pool?.discount_bp ?? 0, next),
        refusal && quote instanceof Error ? null : breakdown(quote),
        h('div.actions', h('button.buy', { onclick: () => buy(p.product, null) }, t('buy'))),
        refusal ? h('p.refusal', { role: 'alert' }, refusal) : null);
    });
    fill(cards.shop.body, items.length ? items : h('p.muted', t('no_products')));
  }

  function progress(units, discountBp, next) {
    const total = next ? units + next.units_needed : Math.max(units, 1);
    const share = Math.min(1, units / total);
    const bar = h('div.bar-fill');
    bar.style.width = `${(share * 100).toFixed(1)}%`;
    return h('div.pool', { dataset: { units } },
      h('div.progress', {
        role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': total, 'aria-valuenow': units,
        'aria-label': t('group_pool'),
      }, bar),
      h('p.pool-text',
        t('pool_units', { units }), ' · ',
        discountBp ? t('pool_discount_now', { pct: percent(discountBp) }) + ' · ' : '',
        next ? t('pool_next', { more: next.units_needed, pct: percent(next.discount_bp) }) : t('pool_top')));
  }

  function breakdown(quote) {
    if (quote instanceof Error) return h('p.refusal', refusalText(quote));
    const p = quote.price;
    return h('dl.breakdown',
      h('dt', t('list_price')), h('dd', money(p.list_price_fen)),
      h('dt', t('group_discount', { pct: percent(p.group_discount_bp) })), h('dd', `−${money(p.group_discount_fen)}`),
      h('dt', t('credit_discount', { pct: percent(p.credit_discount_bp) })), h('dd', `−${money(p.credit_discount_fen)}`),
      p.voucher_bp > 0
        ? [h('dt.voucher', t('voucher_discount', { pct: percent(p.voucher_bp) })), h('dd.voucher', `−${money(p.voucher_discount_fen)}`)]
        : null,
      h('dt.total', t('you_pay_now')), h('dd.total', money(p.unit_price_fen)));
  }

  function renderFeed(d) {
    const following = new Set(d.profile.following);
    const promos = d.feed.promotions.map((p) => h('article.promo',
      h('p', h('strong', p.kol_name), ' ', t('promotes'), ' ', h('strong', p.name), ' — ', money(p.list_price_fen)),
      h('p.muted', t('credibility', { value: p.credibility.toFixed(2) })),
      h('button.buy', { onclick: () => buy(p.product, p.kol) }, t('buy_via', { kol: p.kol_name }))));
    const kols = d.kols.kols.map((k) => h('li',
      h('span', k.name, ' ', h('span.muted', t('followers_n', { n: k.followers }))),
      h('button.small', { onclick: () => follow(k.kol, !following.has(k.kol)) },
        following.has(k.kol) ? t('unfollow') : t('follow'))));
    fill(cards.feed.body,
      promos.length ? promos : h('p.muted', t('no_promotions')),
      kols.length ? [h('h3', t('kols')), h('ul.kols', kols)] : null);
  }

  function renderGroup(g) {
    if (g.group == null) {
      fill(cards.group.body, h('p', g.regroup_day != null ? t('no_group_until', { day: g.regroup_day }) : t('no_group')));
      return;
    }
    fill(cards.group.body,
      h('p', t('group_line', { group: g.group, size: g.size, min: g.min_size, max: g.max_size })),
      g.top_interests.length
        ? h('p', t('shared_interests'), ' ', g.top_interests.map((i) => h('span.tag', t('topic', { n: i.topic }), ' ', i.weight.toFixed(2))))
        : null,
      h('p', t('group_history', { notices: g.history.notices_tallied, expulsions: g.history.expulsions, open: g.open_notices })),
      h('p.muted', t('group_privacy')));
  }

  function renderDenounce(mine, policy) {
    const enabled = Boolean(mine.enabled);
    cards.denounce.el.hidden = !enabled;
    denounceChip.hidden = !enabled;
    if (!enabled) return;
    const rules = policy.denunciation ?? {};
    const chosen = denounceKind.value;
    fill(denounceKind, policy.incident_kinds.map((k) => h('option', { value: k.name }, kindName(k.name))));
    if (chosen) denounceKind.value = chosen;
    fill(denounceNote,
      t('denounce_note', { pct: percent(Math.round((rules.voucher_percent ?? 0) * 10000)), days: rules.voucher_days }),
      rules.reward_points > 0 ? [' ', t('denounce_reward', { points: rules.reward_points })] : null,
      rules.false_report_penalty > 0 ? [' ', t('denounce_penalty', { points: rules.false_report_penalty })] : null,
      ' ', t('denounce_privacy'));
    const reports = [...mine.reports].reverse();
    fill(myReports, reports.length
      ? h('ul.reports', reports.map((r) => h('li', { dataset: { report: r.report, status: r.status } },
        t('my_report_line', { id: r.report, accused: r.accused, kind: kindName(r.kind), day: r.day }), ' — ',
        h(`span.status.${r.status}`, t(`report_${r.status}`)))))
      : h('p.muted', t('no_reports')));
    fill(myVouchers, mine.vouchers.length
      ? h('ul.vouchers', mine.vouchers.map((v) => h('li', { dataset: { voucher: v.voucher } },
        t('voucher_line', { pct: percent(v.discount_bp), from: v.usable_from, expires: v.expires }))))
      : h('p.muted', t('no_vouchers')));
  }

  function renderTimeline(x) {
    const entries = x.entries.map((e) => ({ ...e })).reverse();
    fill(cards.timeline.body,
      h('p', t('summary', { initial: x.initial_score, n: x.entries.length, score: x.score, tier: x.tier })),
      entries.length
        ? h('ol.timeline', entries.map((e) => h('li', { dataset: { cause: e.cause } },
          h(`span.delta.${e.delta < 0 ? 'down' : 'up'}`, signed(e.delta)),
          h('span.day', t('day_n', { day: e.day })),
          h('span.why', cause(e)))))
        : h('p.muted', t('no_changes')));
  }

  function renderIncidents(list) {
    const today = clock.day;
    fill(cards.incidents.body, list.incidents.length
      ? list.incidents.map((i) => {
        const canAppeal = i.appeal.status === 'not_appealed' && (today == null || today <= i.appeal_last_day);
        return h('article.incident', { dataset: { incident: i.incident } },
          h('p', t('incident_line', { kind: kindName(i.kind), day: i.day, penalty: signed(i.penalty) })),
          i.source ? h('p.muted.source', { dataset: { source: i.source } }, t(`source_${i.source}`)) : null,
          i.outcome ? h('p.muted', t('incident_outcome', {
            expel: i.outcome.expel, keep: i.outcome.keep, none: i.outcome.unanswered,
          }), i.outcome.expelled ? [' ', h('strong', t('you_were_expelled'))] : null) : null,
          h('p', t(`appeal_${i.appeal.status}`, { day: i.appeal_last_day })),
          canAppeal ? h('button.small', { onclick: () => appeal(i.incident) }, t('appeal')) : null);
      })
      : h('p.muted', t('no_incidents')));
  }

  function renderOrders(o, names) {
    const row = (x) => h('li', `${names.get(x.product) ?? `#${x.product}`} × ${x.units}`, ' — ',
      x.status === 'settled' ? money(x.total_fen) : t('pending'));
    const settled = o.settled.slice(-10).reverse();
    fill(cards.orders.body, o.pending.length + settled.length
      ? h('ul.orders', o.pending.map(row), settled.map(row))
      : h('p.muted', t('no_orders')));
  }

  return {
    refresh,
    onEvent(kind, data) {
      switch (kind) {
        case 'notice': return t('ev_notice', { kind: kindName(data.kind) });
        case 'vote_tallied': return t('ev_vote', { points: signed(data.delta) });
        case 'incident_reported': return t('ev_incident', { kind: kindName(data.kind), penalty: signed(data.penalty) });
        case 'expelled': return t('ev_expelled');
        case 'appeal_decided': return t(data.granted ? 'ev_appeal_granted' : 'ev_appeal_rejected');
        case 'day_closed': return t('ev_day_closed', { day: data.closed });
        case 'promotion': return t('ev_promotion', { kol: data.kol_name, product: data.name });
        default: return null;
      }
    },
  };
}

function banner(profile) {
  if (!profile.travel_banned) return null;
  const needed = profile.travel_score_needed;
  const points = Math.max(0, needed - profile.score);
  return h('div.banner.ban', { role: 'alert' },
    h('strong', t('travel_ban_title')),
    h('p', t('travel_ban_text', { tier: profile.tier })),
    h('p', t('travel_ban_lift', { score: needed, points })),
    h('p.muted', t('travel_ban_how')));
}

function refusalText(error) {
  if (error.code === 'travel_banned' && error.details) {
    return t('refused_travel', { tier: error.details.tier, score: error.details.score, needed: error.details.score_needed });
  }
  return error.message;
}

function cause(e) {
  const vars = { kind: kindName(e.incident_kind), incident: e.incident ?? '', report: e.report ?? '' };
  const text = t(`cause_${e.cause}`, vars);
  return e.delta !== e.requested ? `${text} ${t('cause_bound', { requested: signed(e.requested) })}` : text;
}
