// English and French (the article's language), chosen by the browser's language. Each
// string is a template: t('day_n', {day: 3}) → "Day 3". A key missing from French falls
// back to English, a key missing from both shows itself (the tests check none is missing).

export const lang = (navigator.languages?.[0] || navigator.language || 'en').toLowerCase().startsWith('fr') ? 'fr' : 'en';

const en = {
  title: 'xinyong — the live platform',
  about: 'A simulation of the social-commerce social-credit system described by L\'ADN: interest groups buy together, and when a camera flags someone, every group-mate must expel them or keep them. No images, no biometrics: an incident is a line of text.',
  sign_in: 'Sign in', sign_out: 'Sign out',
  sign_in_help: 'Paste the token your operator gave you (64 hexadecimal characters). It stays in this browser only.',
  token_label: 'Token', token_placeholder: '64 hexadecimal characters',
  token_malformed: 'A token is 64 hexadecimal characters (0–9, a–f).',
  token_unknown: 'This token belongs to no account. Ask your operator for yours.',
  live: 'live', offline: 'offline',
  day: 'Day', day_n: 'Day {day}', day_short: 'd{day}', days_n: '{n} days', today: 'today',
  closes_in: 'closes in {time}',
  role_citizen: 'Citizen', role_kol: 'KOL', role_brand: 'Brand', role_reporter: 'Reporter', role_operator: 'Operator',
  // Citizen.
  my_score: 'My score', inbox: 'Notices', shop: 'Shop', kol_feed: 'KOL feed', my_group: 'My group',
  timeline: 'Why my score is what it is', incidents: 'Incidents against me', my_orders: 'My orders',
  tier: 'Tier', next_tier: 'Next tier: {tier} at {score} ({points} points to go).', top_tier: 'You are in the top tier.',
  restrictions: 'Restrictions: {list}.', no_restrictions: 'No restrictions.', restriction_travel: 'no train or plane tickets',
  favourite_discount: 'Your tier gives {pct} off your favourite products.',
  tiers_move_at_close: 'Your tier moves when the day closes.',
  travel_ban_title: 'You are banned from travel',
  travel_ban_text: 'Tier {tier} bars you from buying train and plane tickets.',
  travel_ban_lift: 'A score of {score} would lift the ban: {points} points to go.',
  travel_ban_how: 'Points come back by answering notices and when an appeal is granted. The ban lifts at the close of the day your score gets there.',
  no_notices: 'No notice to answer.',
  notice_text: 'Your group-mate no. {offender} was reported for {kind}. Expel them from the group, or keep them?',
  deadline_countdown: 'Answer before day {day} closes: {time} left.',
  deadline_today: 'Answer today (day {day}), before the close.',
  deadline_day: 'Answer before day {day} closes.',
  expel: 'Expel', keep: 'Keep', answer_expel: 'expel', answer_keep: 'keep',
  you_answered: 'You answered "{answer}": {points} when the day closes.',
  unanswered_counts: 'No answer counts as "{answer}".',
  answer_recorded: 'Answer recorded: {answer}.',
  travel_ticket: 'travel ticket', buy: 'Buy', buy_via: 'Buy via {kol}', ordered: 'Ordered: {total} for now (settled at the close).',
  no_group_list_price: 'You are in no group: you pay the list price.',
  group_pool: 'Group pool today',
  pool_units: '{units} ordered by your group today',
  pool_discount_now: '{pct} off now',
  pool_next: '{more} more for {pct} off', pool_top: 'top discount reached',
  list_price: 'List price', group_discount: 'Group discount ({pct})', credit_discount: 'Credit-tier discount ({pct})',
  you_pay_now: 'You would pay now',
  refused_travel: 'Refused: tier {tier} bars travel (score {score}; {needed} needed).',
  no_products: 'No products yet.',
  promotes: 'promotes', credibility: 'credibility {value}', no_promotions: 'No promotion today from the KOLs you follow.',
  kols: 'KOLs', followers_n: '{n} follower(s)', follow: 'Follow', unfollow: 'Unfollow',
  no_group: 'You are in no group yet.', no_group_until: 'You are in no group; you can be regrouped from day {day}.',
  group_line: 'Group {group}: {size} members (between {min} and {max}).',
  shared_interests: 'Shared interests:', topic: 'topic {n}',
  group_history: 'So far: {notices} notices tallied, {expulsions} expulsions; {open} open now.',
  group_privacy: 'You never see the other members\' names or scores.',
  summary: 'You started at {initial} points; {n} change(s) since brought you to {score}. Tier {tier}.',
  no_changes: 'No change yet.',
  cause_incident: 'you were reported for {kind} ({incident})',
  cause_vote_expel: 'you answered "expel" to the notice about {incident}',
  cause_vote_keep: 'you answered "keep" to the notice about {incident}',
  cause_abstain_counted_expel: 'you did not answer the notice about {incident}; it counted as "expel"',
  cause_abstain_counted_keep: 'you did not answer the notice about {incident}; it counted as "keep"',
  cause_appeal_granted: 'your appeal of {incident} was granted',
  cause_denunciation_reward: 'your report {report} was confirmed',
  cause_false_report: 'your report {report} was rejected',
  cause_voucher_issued: 'you received a voucher for a confirmed report ({incident})',
  cause_voucher_used: 'you used a voucher', cause_voucher_expired: 'a voucher expired unused',
  cause_bound: '(the rule asked for {requested}; a score bound absorbed the rest)',
  incident_line: '{kind}, day {day}: {penalty} points.',
  incident_outcome: 'Your group answered: {expel} expel, {keep} keep, {none} no answer.',
  you_were_expelled: 'You were expelled.',
  appeal_not_appealed: 'Not appealed (you can appeal until day {day}).',
  appeal_filed: 'Appeal filed; the operator will decide.',
  appeal_granted: 'Appeal granted: the points were given back.',
  appeal_rejected: 'Appeal rejected.',
  appeal: 'Appeal', no_incidents: 'No incident reported against you.',
  pending: 'pending', no_orders: 'No orders yet.',
  ev_notice: 'New notice: a group-mate was reported for {kind}.',
  ev_vote: 'Your answer was tallied: {points}.',
  ev_incident: 'You were reported for {kind}: {penalty}.',
  ev_expelled: 'You were expelled from your group.',
  ev_appeal_granted: 'Your appeal was granted.', ev_appeal_rejected: 'Your appeal was rejected.',
  ev_day_closed: 'Day {day} closed.',
  ev_promotion: '{kol} promotes {product} today.',
  // KOL.
  kol_stats: 'My audience', promote: 'Promote a product', credibility_over_time: 'Credibility over time', sales: 'Sales through my promotions',
  followers: 'Followers', credibility_label: 'Credibility', promotions: 'Promotions', units_sold: 'Units sold',
  scandals_hit: 'Scandals that hit me', product: 'Product', promote_today: 'Promote today', promoted: 'Promoted for today.',
  promoting_today: 'Promoting today:', not_promoting: 'No promotion today.',
  credibility_note: 'The server keeps today\'s credibility only: this history is what this browser saw.',
  units_per_day: 'Units sold per day', no_sales: 'No sale through your promotions yet.',
  units: 'Units', revenue: 'Revenue',
  // Brand.
  brand_totals: 'Orders and discounts granted', catalogue: 'My catalogue', add_product: 'Add a product',
  product_name: 'Product name', price_yuan: 'List price (yuan)', add: 'Add', product_added: 'Product added.',
  orders: 'Orders', group_discounts_granted: 'Group discounts granted', credit_discounts_granted: 'Credit discounts granted',
  revenue_by_product: 'Revenue by product (yuan)', today_units: 'Units today', discounts_granted: 'Discounts granted',
  // Reporter.
  file_incident: 'File an incident', filed_incidents: 'Filed by me (this session)', citizen_id: 'Citizen id',
  incident_kind: 'Kind', file: 'File', text_only: 'Text only: a citizen id and a kind. No image or biometric data is ever sent.',
  incident_filed: 'Incident {id} filed.', filed_line: '{id}: citizen {citizen}, {kind} ({penalty})', none_filed: 'Nothing filed yet.',
  // Operator.
  dashboard: 'Dashboard', day_and_appeals: 'Day and appeals', score_distribution: 'Score distribution', tiers: 'Tiers',
  banned_share: 'Share banned from travel', expulsions_per_day: 'Expulsions per day', gmv_per_day: 'GMV per day (yuan)',
  policy_in_force: 'Policy in force', accounts: 'Accounts', close_day: 'Close the day',
  day_closed_report: 'Day {day} closed: {notices} notices delivered, {expelled} expelled.',
  appeals_pending: 'Appeals waiting', appeal_line: '{id}: citizen {citizen}, {kind} ({penalty})',
  grant: 'Grant', reject: 'Reject', no_appeals: 'No appeal waiting.',
  appeal_granted_done: 'Appeal granted.', appeal_rejected_done: 'Appeal rejected.',
  citizens: 'Citizens', groups: 'Groups', groupless_n: '{n} groupless', mean_score: 'Mean score',
  p10_p50_p90: 'Score p10 / p50 / p90', gini: 'Gini', travel_banned: 'Banned from travel', expulsions: 'Expulsions',
  appeals_granted: 'Appeals granted', gmv: 'GMV', refused_travel_orders: 'Tickets refused',
  innocence_note: 'The service cannot know who was innocent: an appeal granted is the only sign of a wrong identification.',
  banned_history_note: 'The line is what this browser saw, one point per day.',
  expelled: 'expelled', overturned: 'overturned on appeal',
  overturned_note: 'Expulsions whose incident was later overturned on appeal: people expelled for nothing.',
  no_days_closed: 'No day closed yet.',
  scenario: 'Scenario: {name}.', in_setup: 'in set-up', locked: 'locked',
  group_sizes: 'Group sizes', group_discounts: 'Group discounts', sanction: 'Notices',
  sanction_text: 'expel +{expel}, keep −{keep}; expelled at {quorum} % expel; no answer counts as "{abstain}"; regrouped after {days} days',
  incident_kinds: 'Incidents', appeal_window: 'Appeal window', raw_policy: 'Every rule (JSON)',
  how_many: 'How many', tokens_once: 'Tokens are shown once: hand them out now.', role: 'Role', name: 'Name',
  create: 'Create', create_citizens: 'Create citizens', create_kols: 'KOL', create_brands: 'Brand', create_reporters: 'Reporter',
  citizen_n: 'citizen {n}', form_groups: 'Form groups', groups_formed: '{groups} groups formed, {placed} citizens placed.',
};

const fr = {
  title: 'xinyong — la plateforme en direct',
  about: 'Une simulation du crédit social par le commerce social décrit par L\'ADN : les groupes d\'intérêt achètent ensemble, et quand une caméra signale quelqu\'un, chaque membre du groupe doit l\'exclure ou le garder. Ni image ni biométrie : un incident est une ligne de texte.',
  sign_in: 'Se connecter', sign_out: 'Se déconnecter',
  sign_in_help: 'Collez le jeton que l\'opérateur vous a donné (64 caractères hexadécimaux). Il reste dans ce navigateur.',
  token_label: 'Jeton', token_placeholder: '64 caractères hexadécimaux',
  token_malformed: 'Un jeton fait 64 caractères hexadécimaux (0–9, a–f).',
  token_unknown: 'Ce jeton n\'appartient à aucun compte. Demandez le vôtre à l\'opérateur.',
  live: 'en direct', offline: 'hors ligne',
  day: 'Jour', day_n: 'Jour {day}', day_short: 'j{day}', days_n: '{n} jours', today: 'aujourd\'hui',
  closes_in: 'clôture dans {time}',
  role_citizen: 'Citoyen', role_kol: 'KOL', role_brand: 'Marque', role_reporter: 'Signaleur', role_operator: 'Opérateur',
  my_score: 'Mon score', inbox: 'Avis', shop: 'Boutique', kol_feed: 'Fil des KOL', my_group: 'Mon groupe',
  timeline: 'Pourquoi mon score est ce qu\'il est', incidents: 'Incidents me concernant', my_orders: 'Mes commandes',
  tier: 'Catégorie', next_tier: 'Catégorie suivante : {tier} à {score} (encore {points} points).', top_tier: 'Vous êtes dans la meilleure catégorie.',
  restrictions: 'Restrictions : {list}.', no_restrictions: 'Aucune restriction.', restriction_travel: 'ni billet de train ni billet d\'avion',
  favourite_discount: 'Votre catégorie vous donne {pct} de remise sur vos produits favoris.',
  tiers_move_at_close: 'Votre catégorie change à la clôture du jour.',
  travel_ban_title: 'Vous êtes interdit de voyage',
  travel_ban_text: 'La catégorie {tier} vous interdit d\'acheter des billets de train et d\'avion.',
  travel_ban_lift: 'Un score de {score} lèverait l\'interdiction : encore {points} points.',
  travel_ban_how: 'Les points reviennent en répondant aux avis et quand un recours est accepté. L\'interdiction est levée à la clôture du jour où votre score y parvient.',
  no_notices: 'Aucun avis en attente.',
  notice_text: 'Votre voisin de groupe n° {offender} a été signalé pour {kind}. L\'exclure du groupe, ou le garder ?',
  deadline_countdown: 'Répondez avant la clôture du jour {day} : il reste {time}.',
  deadline_today: 'Répondez aujourd\'hui (jour {day}), avant la clôture.',
  deadline_day: 'Répondez avant la clôture du jour {day}.',
  expel: 'Exclure', keep: 'Garder', answer_expel: 'exclure', answer_keep: 'garder',
  you_answered: 'Vous avez répondu « {answer} » : {points} à la clôture du jour.',
  unanswered_counts: 'Sans réponse, c\'est « {answer} ».',
  answer_recorded: 'Réponse enregistrée : {answer}.',
  travel_ticket: 'billet de voyage', buy: 'Acheter', buy_via: 'Acheter via {kol}', ordered: 'Commandé : {total} pour l\'instant (réglé à la clôture).',
  no_group_list_price: 'Vous n\'êtes dans aucun groupe : vous payez le prix catalogue.',
  group_pool: 'Achat groupé du jour',
  pool_units: '{units} commandé(s) par votre groupe aujourd\'hui',
  pool_discount_now: '{pct} de remise maintenant',
  pool_next: 'encore {more} pour {pct} de remise', pool_top: 'remise maximale atteinte',
  list_price: 'Prix catalogue', group_discount: 'Remise de groupe ({pct})', credit_discount: 'Remise de catégorie ({pct})',
  you_pay_now: 'Vous paieriez maintenant',
  refused_travel: 'Refusé : la catégorie {tier} interdit le voyage (score {score} ; il faut {needed}).',
  no_products: 'Aucun produit pour l\'instant.',
  promotes: 'recommande', credibility: 'crédibilité {value}', no_promotions: 'Aucune promotion aujourd\'hui des KOL que vous suivez.',
  kols: 'KOL', followers_n: '{n} abonné(s)', follow: 'Suivre', unfollow: 'Ne plus suivre',
  no_group: 'Vous n\'êtes encore dans aucun groupe.', no_group_until: 'Vous n\'êtes dans aucun groupe ; regroupement possible à partir du jour {day}.',
  group_line: 'Groupe {group} : {size} membres (entre {min} et {max}).',
  shared_interests: 'Intérêts communs :', topic: 'thème {n}',
  group_history: 'Jusqu\'ici : {notices} avis décomptés, {expulsions} exclusions ; {open} en cours.',
  group_privacy: 'Vous ne voyez jamais les noms ni les scores des autres membres.',
  summary: 'Vous avez commencé à {initial} points ; {n} changement(s) depuis donnent {score}. Catégorie {tier}.',
  no_changes: 'Aucun changement pour l\'instant.',
  cause_incident: 'vous avez été signalé pour {kind} ({incident})',
  cause_vote_expel: 'vous avez répondu « exclure » à l\'avis sur {incident}',
  cause_vote_keep: 'vous avez répondu « garder » à l\'avis sur {incident}',
  cause_abstain_counted_expel: 'vous n\'avez pas répondu à l\'avis sur {incident} ; compté comme « exclure »',
  cause_abstain_counted_keep: 'vous n\'avez pas répondu à l\'avis sur {incident} ; compté comme « garder »',
  cause_appeal_granted: 'votre recours contre {incident} a été accepté',
  cause_denunciation_reward: 'votre dénonciation {report} a été confirmée',
  cause_false_report: 'votre dénonciation {report} a été rejetée',
  cause_voucher_issued: 'vous avez reçu un bon pour une dénonciation confirmée ({incident})',
  cause_voucher_used: 'vous avez utilisé un bon', cause_voucher_expired: 'un bon a expiré sans servir',
  cause_bound: '(la règle demandait {requested} ; une borne du score a absorbé le reste)',
  incident_line: '{kind}, jour {day} : {penalty} points.',
  incident_outcome: 'Votre groupe a répondu : {expel} exclure, {keep} garder, {none} sans réponse.',
  you_were_expelled: 'Vous avez été exclu.',
  appeal_not_appealed: 'Pas de recours (possible jusqu\'au jour {day}).',
  appeal_filed: 'Recours déposé ; l\'opérateur décidera.',
  appeal_granted: 'Recours accepté : les points ont été rendus.',
  appeal_rejected: 'Recours rejeté.',
  appeal: 'Faire un recours', no_incidents: 'Aucun incident signalé contre vous.',
  pending: 'en attente', no_orders: 'Aucune commande pour l\'instant.',
  ev_notice: 'Nouvel avis : un voisin de groupe a été signalé pour {kind}.',
  ev_vote: 'Votre réponse a été décomptée : {points}.',
  ev_incident: 'Vous avez été signalé pour {kind} : {penalty}.',
  ev_expelled: 'Vous avez été exclu de votre groupe.',
  ev_appeal_granted: 'Votre recours a été accepté.', ev_appeal_rejected: 'Votre recours a été rejeté.',
  ev_day_closed: 'Jour {day} clos.',
  ev_promotion: '{kol} recommande {product} aujourd\'hui.',
  kol_stats: 'Mon audience', promote: 'Recommander un produit', credibility_over_time: 'Crédibilité au fil du temps', sales: 'Ventes par mes promotions',
  followers: 'Abonnés', credibility_label: 'Crédibilité', promotions: 'Promotions', units_sold: 'Unités vendues',
  scandals_hit: 'Scandales subis', product: 'Produit', promote_today: 'Recommander aujourd\'hui', promoted: 'Recommandé pour aujourd\'hui.',
  promoting_today: 'Recommandé aujourd\'hui :', not_promoting: 'Aucune promotion aujourd\'hui.',
  credibility_note: 'Le serveur ne garde que la crédibilité du jour : cet historique est ce que ce navigateur a vu.',
  units_per_day: 'Unités vendues par jour', no_sales: 'Aucune vente par vos promotions pour l\'instant.',
  units: 'Unités', revenue: 'Chiffre d\'affaires',
  brand_totals: 'Commandes et remises accordées', catalogue: 'Mon catalogue', add_product: 'Ajouter un produit',
  product_name: 'Nom du produit', price_yuan: 'Prix catalogue (yuans)', add: 'Ajouter', product_added: 'Produit ajouté.',
  orders: 'Commandes', group_discounts_granted: 'Remises de groupe accordées', credit_discounts_granted: 'Remises de catégorie accordées',
  revenue_by_product: 'Chiffre d\'affaires par produit (yuans)', today_units: 'Unités du jour', discounts_granted: 'Remises accordées',
  file_incident: 'Signaler un incident', filed_incidents: 'Mes signalements (cette session)', citizen_id: 'N° du citoyen',
  incident_kind: 'Nature', file: 'Signaler', text_only: 'Texte seulement : un numéro de citoyen et une nature. Aucune image ni donnée biométrique n\'est jamais envoyée.',
  incident_filed: 'Incident {id} signalé.', filed_line: '{id} : citoyen {citizen}, {kind} ({penalty})', none_filed: 'Aucun signalement pour l\'instant.',
  dashboard: 'Tableau de bord', day_and_appeals: 'Journée et recours', score_distribution: 'Répartition des scores', tiers: 'Catégories',
  banned_share: 'Part interdite de voyage', expulsions_per_day: 'Exclusions par jour', gmv_per_day: 'Volume d\'affaires par jour (yuans)',
  policy_in_force: 'Règles en vigueur', accounts: 'Comptes', close_day: 'Clore la journée',
  day_closed_report: 'Jour {day} clos : {notices} avis remis, {expelled} exclusion(s).',
  appeals_pending: 'Recours en attente', appeal_line: '{id} : citoyen {citizen}, {kind} ({penalty})',
  grant: 'Accepter', reject: 'Rejeter', no_appeals: 'Aucun recours en attente.',
  appeal_granted_done: 'Recours accepté.', appeal_rejected_done: 'Recours rejeté.',
  citizens: 'Citoyens', groups: 'Groupes', groupless_n: '{n} sans groupe', mean_score: 'Score moyen',
  p10_p50_p90: 'Score p10 / p50 / p90', gini: 'Gini', travel_banned: 'Interdits de voyage', expulsions: 'Exclusions',
  appeals_granted: 'Recours acceptés', gmv: 'Volume d\'affaires', refused_travel_orders: 'Billets refusés',
  innocence_note: 'Le service ne peut pas savoir qui était innocent : un recours accepté est le seul signe d\'une erreur d\'identification.',
  banned_history_note: 'La courbe est ce que ce navigateur a vu, un point par jour.',
  expelled: 'exclus', overturned: 'annulées en recours',
  overturned_note: 'Exclusions dont l\'incident a ensuite été annulé en recours : des personnes exclues pour rien.',
  no_days_closed: 'Aucune journée close pour l\'instant.',
  scenario: 'Scénario : {name}.', in_setup: 'en préparation', locked: 'verrouillées',
  group_sizes: 'Taille des groupes', group_discounts: 'Remises de groupe', sanction: 'Avis',
  sanction_text: 'exclure +{expel}, garder −{keep} ; exclusion à {quorum} % d\'« exclure » ; sans réponse = « {abstain} » ; regroupement après {days} jours',
  incident_kinds: 'Incidents', appeal_window: 'Délai de recours', raw_policy: 'Toutes les règles (JSON)',
  how_many: 'Combien', tokens_once: 'Les jetons ne sont montrés qu\'une fois : distribuez-les maintenant.', role: 'Rôle', name: 'Nom',
  create: 'Créer', create_citizens: 'Créer des citoyens', create_kols: 'KOL', create_brands: 'Marque', create_reporters: 'Signaleur',
  citizen_n: 'citoyen {n}', form_groups: 'Former les groupes', groups_formed: '{groups} groupe(s) formé(s), {placed} citoyens placés.',
};

/** Incident kinds of the default policy, in words; other kinds show their name. */
const KINDS = {
  en: {
    traffic_violation: 'a traffic violation', public_drunkenness: 'public drunkenness', fare_evasion: 'fare evasion',
    littering: 'littering', online_rumour: 'spreading an online rumour', unpaid_judgement: 'an unpaid court judgement',
    destroying_public_equipment: 'destroying public equipment',
  },
  fr: {
    traffic_violation: 'une infraction routière', public_drunkenness: 'ivresse sur la voie publique', fare_evasion: 'fraude dans les transports',
    littering: 'un déchet jeté par terre', online_rumour: 'une rumeur en ligne', unpaid_judgement: 'un jugement non exécuté',
    destroying_public_equipment: 'la dégradation d\'un équipement public',
  },
};

export const DICTIONARIES = { en, fr };

export function t(key, vars = {}) {
  const template = (lang === 'fr' ? fr[key] : undefined) ?? en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (_, name) => (vars[name] ?? `{${name}}`));
}

export function kindName(kind) {
  if (!kind) return '';
  return KINDS[lang][kind] ?? KINDS.en[kind] ?? kind.replaceAll('_', ' ');
}

const moneyFormat = new Intl.NumberFormat(lang === 'fr' ? 'fr-FR' : 'en-GB', { style: 'currency', currency: 'CNY', currencyDisplay: 'narrowSymbol' });

/** Fen to yuan, as people write it. */
export function money(fen) {
  return moneyFormat.format(fen / 100);
}

/** Basis points as a percentage: 2500 → "25 %". */
export function percent(bp) {
  const value = bp / 100;
  return `${Number.isInteger(value) ? value : value.toFixed(1)} %`;
}

/** +3, −3 (a true minus sign). */
export function signed(n) {
  return n > 0 ? `+${n}` : n < 0 ? `−${-n}` : '0';
}

/** A countdown: "2 h 05 min", "4 min 09 s", "12 s". */
export function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  const pad = (n) => String(n).padStart(2, '0');
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min ${pad(s % 60)} s`;
  return `${s} s`;
}
