"""xinyong's default scenario, written the way a Mesa 3 user would write it.

Agents are Mesa ``Agent`` objects held by the model (``model.agents``): one ``Citizen`` per
person, one ``InterestGroup`` per interest group, one ``KOL`` per key opinion leader. A day
is one ``model.step()``:

1. scandals come out; every KOL promotes a product of its topic (``KOL.step``);
2. appeals filed 14 days ago are decided; yesterday's incidents may be appealed;
3. every group posts its deal of the day (``InterestGroup.step``);
4. every citizen, in random order (``shuffle_do``), answers the notices delivered to them
   yesterday, is (or is not) caught by the cameras or reported by a court, and shops;
5. the day closes, in xinyong's order: per group tally → deliver → settle, then the
   groupless' orders, KOL credibility, tiers, regrouping; a ``DataCollector`` records the
   day.

Every rule and parameter follows xinyong (``crates/engine``, ``crates/sim``) and is read
from its scenario file (``scenarios/default.toml``). The random draws are Python's own
(``model.random``): the runs agree with xinyong's statistically, not bit for bit. See
README.md in this folder for what is simplified.
"""

from __future__ import annotations

import math
import tomllib
from bisect import bisect_right
from collections import Counter
from pathlib import Path

import mesa

HERE = Path(__file__).resolve().parent
DEFAULT_SCENARIO = HERE.parents[2] / "scenarios" / "default.toml"

EXPEL, KEEP, NONE = 0, 1, 2
MASK64 = (1 << 64) - 1


# ---------------------------------------------------------------------------------------
# Scenario and rules


def load_scenario(path: Path | str = DEFAULT_SCENARIO) -> dict:
    with open(path, "rb") as f:
        return tomllib.load(f)


class Rules:
    """The policy part of the scenario, in the units the engine uses (points, fen, bp)."""

    def __init__(self, scenario: dict):
        p = scenario["policy"]
        self.initial_score = p["initial_score"]
        self.score_min = p["score_min"]
        self.score_max = p["score_max"]
        self.max_discount_bp = round(p["max_discount"] * 10_000)
        self.min_size = p["groups"]["min_size"]
        self.max_size = p["groups"]["max_size"]
        s = p["sanction"]
        self.expel_reward = s["expel_reward"]
        self.keep_penalty = s["keep_penalty"]
        self.abstain_as = s["abstain_as"]
        self.quorum_bp = round(s["expel_quorum"] * 10_000)
        self.regroup_after_days = s["regroup_after_days"]
        self.group_discounts = [(d["min_units"], round(d["discount"] * 10_000)) for d in p["group_discounts"]]
        tiers = p["tiers"]
        self.tier_names = [t["name"] for t in tiers]
        # Highest first; the last tier starts at score_min.
        self.tier_min = [t.get("min_score", self.score_min) for t in tiers]
        self.tier_min[-1] = max(self.tier_min[-1], self.score_min)
        self.tier_favourite_bp = [round(t["favourite_discount"] * 10_000) for t in tiers]
        self.tier_travel_banned = ["travel" in t["restrictions"] for t in tiers]
        self.kinds = [k["name"] for k in p["incident_kinds"]]
        self.penalties = [k["penalty"] for k in p["incident_kinds"]]
        k = p["kol"]
        self.initial_credibility = k["initial_credibility"]
        self.scandal_window_days = k["scandal_window_days"]
        self.scandal_factor = k["scandal_factor"]
        self.success_gain = k["success_gain"]
        self.appeal_window_days = p["appeals"]["window_days"]
        self.max_units_per_order = p["orders"]["max_units_per_order"]
        # Ascending minimum scores, for bisect.
        self._ascending = list(reversed(self.tier_min))

    def tier_of(self, score: int) -> int:
        return len(self.tier_min) - bisect_right(self._ascending, score)

    def travel_score_needed(self, score: int) -> int | None:
        needed = [m for m, banned in zip(self.tier_min, self.tier_travel_banned) if not banned and m > score]
        return min(needed) if needed else None

    def group_discount(self, units: int) -> tuple[int, int]:
        """(discount in basis points, pool tier 0..=3) for a pool of `units`."""
        result = (0, 0)
        for i, (min_units, bp) in enumerate(self.group_discounts):
            if units >= min_units:
                result = (bp, i + 1)
        return result

    def quorum_reached(self, expel: int, notified: int) -> bool:
        return notified > 0 and expel * 10_000 >= self.quorum_bp * notified


def unit_price(list_price: int, group_bp: int, credit_bp: int, max_bp: int) -> tuple[int, int, int]:
    """(unit price, group discount, credit discount) in fen, as xinyong's `pricing::unit_price`."""
    after_group = (list_price * (10_000 - group_bp) + 5_000) // 10_000
    after_both = (list_price * (10_000 - group_bp) * (10_000 - credit_bp) + 50_000_000) // 100_000_000
    floor = (list_price * (10_000 - max_bp) + 5_000) // 10_000
    unit = max(after_both, floor)
    return unit, list_price - after_group, after_group - unit


def zipf_cumulative(n: int, exponent: float) -> list[float]:
    weights = [(k + 1) ** -exponent for k in range(n)]
    total = sum(weights)
    acc, out = 0.0, []
    for w in weights:
        acc += w / total
        out.append(acc)
    return out


def poisson_after(u: float, lam: float, p0: float) -> int:
    """A Poisson(lam) draw by inversion of the uniform `u`, given p0 = exp(-lam)."""
    k, p, cumulative = 0, p0, p0
    while u >= cumulative and k < 1000:
        k += 1
        p *= lam / k
        cumulative += p
    return k


def mix64(z: int) -> int:
    """SplitMix64's finaliser: a well-mixed 64-bit hash of a 64-bit integer."""
    z = (z + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


# ---------------------------------------------------------------------------------------
# Records


class Product:
    __slots__ = ("pid", "topic", "list_price", "travel", "scandal_rate", "scandals")

    def __init__(self, pid, topic, list_price, travel, scandal_rate):
        self.pid = pid
        self.topic = topic
        self.list_price = list_price  # fen
        self.travel = travel
        self.scandal_rate = scandal_rate
        self.scandals: list[int] = []  # days


class Incident:
    __slots__ = ("key", "citizen", "kind", "group", "applied", "innocent", "appeal")

    def __init__(self, key, citizen, kind, group, applied, innocent):
        self.key = key  # (day, citizen id, sequence): xinyong's natural id
        self.citizen = citizen
        self.kind = kind
        self.group = group
        self.applied = applied  # the change actually applied (≤ 0)
        self.innocent = innocent  # known to the simulation only
        self.appeal = None


class Notice:
    """`expel X, or keep X?`, sent to every other member of X's group; answered next day."""

    __slots__ = ("incident", "offender", "group", "recipients", "answers")

    def __init__(self, incident, group, recipients):
        self.incident = incident
        self.offender = incident.citizen
        self.group = group
        self.recipients = recipients
        self.answers: list[tuple[Citizen, int]] = []


class Order:
    __slots__ = ("citizen", "product", "units", "kol", "credit_bp")

    def __init__(self, citizen, product, units, kol, credit_bp):
        self.citizen = citizen
        self.product = product
        self.units = units
        self.kol = kol
        self.credit_bp = credit_bp


# ---------------------------------------------------------------------------------------
# Agents


class Citizen(mesa.Agent):
    """A person: score and tier, one interest group (or none), favourites, followed KOLs."""

    def __init__(self, model, cid, topics, weights, propensity, disposition, buy_rate, debt_offset, region):
        super().__init__(model)
        self.cid = cid
        self.topics = topics  # three distinct topics, main first
        self.weights = weights  # their weights, descending, summing to 1
        self.propensity = propensity  # daily probability of camera-visible misconduct
        self.disposition = disposition  # lasting leniency (log-odds of "expel")
        self.buy_rate = buy_rate  # individual orders per day
        self.debt_offset = debt_offset  # court debtor: day (mod 30) of the report, else None
        self.region = region
        rules = model.rules
        self.score = rules.initial_score
        self.tier = rules.tier_of(self.score)
        self.group: InterestGroup | None = None
        self.eligible_day = 0
        self.inbox: list[Notice] = []
        self.incidents_today = 0
        # Lasting draws of the synthetic world.
        lam = model.detection_rate * propensity
        self.misconduct_rate = lam
        self.p_no_misconduct = math.exp(-lam)
        self.favourites: list[Product] = []
        self.follows: list[KOL] = []

    # -- score ---------------------------------------------------------------------------

    def change_score(self, requested: int) -> int:
        rules = self.model.rules
        old = self.score
        new = min(max(old + requested, rules.score_min), rules.score_max)
        if new != old:
            self.score = new
            self.model.score_changed.add(self)
        return new - old

    # -- a day ---------------------------------------------------------------------------

    def step(self):
        model = self.model
        rnd = model.random.random
        # Answer the notices delivered at yesterday's close (decided on the start-of-day
        # state: this citizen's score and tier, the group's record).
        if self.inbox:
            for notice in self.inbox:
                notice.answers.append((self, self.answer(notice)))
            self.inbox.clear()
        # Cameras: detected misconduct.
        u = rnd()
        if u >= self.p_no_misconduct:
            for _ in range(poisson_after(u, self.misconduct_rate, self.p_no_misconduct)):
                model.report_incident(self, model.random_kind(), False)
        # Courts: a judgement debtor is reported every `debtor_report_days`.
        if self.debt_offset == model.debt_day:
            model.report_incident(self, model.debtor_kind, False)
        # Cameras: false identifications.
        u = rnd()
        if u >= model.p_no_false_identification:
            for _ in range(poisson_after(u, model.false_identification_rate, model.p_no_false_identification)):
                model.report_incident(self, model.random_kind(), True)
        if model.commerce:
            self.shop()

    def answer(self, notice: Notice) -> int:
        model = self.model
        v = model.voting
        if v["model"] != "logistic":
            return {"always_expel": EXPEL, "always_keep": KEEP, "never_answer": NONE}[v["model"]]
        rnd = model.random.random
        if rnd() >= v["answer_rate"]:
            return NONE
        group = notice.group
        z = v["intercept"] + self.disposition + group.culture
        z += model.points_pull(self.tier, self.score)
        tie = model.tie(self, notice.offender)
        z -= v["tie_weight"] * tie * tie * tie * tie
        rate = group.expulsions / group.votes if group.votes else 0.5
        z += v["conformity_weight"] * (rate - 0.5)
        return EXPEL if rnd() < 1.0 / (1.0 + math.exp(-z)) else KEEP

    def shop(self):
        model = self.model
        rnd = model.random.random
        # The group buy: the group's deal of the day.
        group = self.group
        if group is not None:
            u = rnd()
            if u >= group.deal_p0:
                for _ in range(poisson_after(u, group.deal_rate, group.deal_p0)):
                    self.place_order(group.deal_product, model.order_units(), None)
        # Individual orders: a ticket, a KOL's promotion, or a favourite.
        lam = self.buy_rate * model.multiplier
        if lam <= 0.0:
            return
        u = rnd()
        p0 = math.exp(-lam)
        if u < p0:
            return
        for _ in range(poisson_after(u, lam, p0)):
            units = model.order_units()
            if rnd() < model.travel_share and model.travel_products:
                self.place_order(model.random.choice(model.travel_products), units, None)
                continue
            for kol in self.follows:
                product = kol.promoted
                if product is not None and rnd() < model.conversion * kol.credibility:
                    self.place_order(product, units, kol)
                    break
            else:
                self.place_order(model.random.choice(self.favourites), units, None)

    def place_order(self, product: Product, units: int, kol):
        model = self.model
        rules = model.rules
        if product.travel and rules.tier_travel_banned[self.tier]:
            model.today["orders_refused_travel"] += 1
            return
        credit_bp = rules.tier_favourite_bp[self.tier] if product in self.favourites else 0
        order = Order(self, product, units, kol, credit_bp)
        if self.group is not None:
            self.group.orders.setdefault(product, []).append(order)
        else:
            model.groupless_orders.append(order)


class InterestGroup(mesa.Agent):
    """200–300 citizens with similar interests: they buy together and vote on each other."""

    def __init__(self, model, gid, members, centroid, culture):
        super().__init__(model)
        self.gid = gid
        self.members: set[Citizen] = set(members)
        self.centroid = centroid
        order = sorted(range(len(centroid)), key=lambda t: (-centroid[t], t))
        self.key = tuple(order[:3])
        self.main_topic = order[0]
        self.norm = math.sqrt(sum(x * x for x in centroid))
        self.culture = culture  # lasting leniency (log-odds of "expel")
        self.votes = 0  # notices tallied so far
        self.expulsions = 0
        self.open: list[Notice] = []  # delivered at the last close, due at the next
        self.incidents_today: list[Incident] = []
        self.orders: dict[Product, list[Order]] = {}
        self.deal_product = None
        self.deal_rate = 0.0
        self.deal_p0 = 1.0

    def step(self):
        """The deal of the day: a product of the group's main topic, of varying appeal."""
        model = self.model
        c = model.scenario["world"]["commerce"]
        if not model.commerce or c["deal_rate"] <= 0:
            self.deal_rate, self.deal_p0 = 0.0, 1.0
            return
        self.deal_product = model.popular_product(self.main_topic)
        shape = c["deal_appeal_shape"]
        appeal = model.random.gammavariate(shape, 1.0) / shape
        self.deal_rate = c["deal_rate"] * model.multiplier * appeal
        self.deal_p0 = math.exp(-self.deal_rate)

    # -- the group's part of the close ---------------------------------------------------

    def tally(self, day):
        """Points for every answer to the notices due today; expulsions by quorum."""
        if not self.open:
            return
        model = self.model
        rules = model.rules
        today = model.today
        due, self.open = self.open, []
        expel = []
        reward, penalty = rules.expel_reward, -rules.keep_penalty
        abstain = rules.abstain_as
        for notice in due:
            expel_votes = n_expel = n_keep = 0
            for citizen, answer in notice.answers:
                if answer == EXPEL:
                    n_expel += 1
                    expel_votes += 1
                    citizen.change_score(reward)
                elif answer == KEEP:
                    n_keep += 1
                    citizen.change_score(penalty)
                elif abstain == "keep":
                    citizen.change_score(penalty)
                elif abstain == "expel":
                    expel_votes += 1
                    citizen.change_score(reward)
            notified = len(notice.recipients)
            today["answers_expel"] += n_expel
            today["answers_keep"] += n_keep
            today["answers_none"] += notified - n_expel - n_keep
            self.votes += 1
            if rules.quorum_reached(expel_votes, notified):
                expel.append(notice)
        # Expulsions after all of today's tallies, so that the same members cast every vote.
        expel.sort(key=lambda n: n.incident.key)
        for notice in expel:
            offender = notice.offender
            if offender in self.members:
                self.members.remove(offender)
                self.expulsions += 1
                model.expel(offender, notice.incident, day)

    def deliver(self):
        """Notices about today's incidents to the current members, due tomorrow."""
        if not self.incidents_today:
            return
        self.incidents_today.sort(key=lambda i: i.key)
        for incident in self.incidents_today:
            offender = incident.citizen
            recipients = [m for m in self.members if m is not offender]
            notice = Notice(incident, self, recipients)
            for r in recipients:
                r.inbox.append(notice)
            self.open.append(notice)
            self.model.today["notices"] += len(recipients)
        self.incidents_today = []

    def settle(self):
        """Each product's orders form a pool: its units select the discount of all of them."""
        if self.orders:
            self.model.settle_pools(self.orders.items(), pooled=True)
            self.orders = {}

    def similarity(self, citizen: Citizen) -> float:
        dot = sum(w * self.centroid[t] for t, w in zip(citizen.topics, citizen.weights))
        own = math.sqrt(sum(w * w for w in citizen.weights))
        return 0.0 if own == 0 or self.norm == 0 else dot / (own * self.norm)


class KOL(mesa.Agent):
    """A key opinion leader: promotes a product a day; credibility moves with its fate."""

    def __init__(self, model, kid, topic):
        super().__init__(model)
        self.kid = kid
        self.topic = topic
        self.credibility = model.rules.initial_credibility
        self.promoted: Product | None = None
        self.units_sold = 0

    def step(self):
        model = self.model
        products = [model.popular_product(self.topic) for _ in range(model.promotions_per_day)]
        self.promoted = products[0] if products else None
        for product in products:
            model.promotions.add((model.day, self.kid, product.pid))


# ---------------------------------------------------------------------------------------
# The model


class SocialCreditModel(mesa.Model):
    def __init__(self, citizens: int = 10_000, seed: int = 1, scenario: dict | None = None):
        super().__init__(seed=seed)
        self.scenario = scenario or load_scenario()
        self.rules = rules = Rules(self.scenario)
        world = self.scenario["world"]
        self.seed = seed
        self.day = 0
        self.start_day_of_year = self.scenario["run"].get("start_day_of_year", 0)
        self.voting = world["voting"]
        m = world["misconduct"]
        cams = world["cameras"]
        self.detection_rate = cams["detection_rate"]
        self.false_identification_rate = cams["false_identification_rate"]
        self.p_no_false_identification = math.exp(-self.false_identification_rate)
        self.kind_cumulative = []
        acc = 0.0
        for name in rules.kinds:
            acc += m["kinds"].get(name, 0.0)
            self.kind_cumulative.append(acc)
        self.debtor_kind = rules.kinds.index(m["debtor_kind"])
        self.debtor_report_days = m["debtor_report_days"]
        c = world["commerce"]
        self.commerce = c["enabled"]
        self.travel_share = c["travel_share"]
        self.extra_units_mean = c["extra_units_mean"]
        self.p_no_extra_unit = math.exp(-c["extra_units_mean"])
        k = world["kols"]
        self.conversion = k["conversion"]
        self.promotions_per_day = k["promotions_per_day"]
        self.multiplier = 1.0
        self.debt_day = 0

        # Bookkeeping of the day and of the run.
        self.score_changed: set[Citizen] = set()
        self.groupless: set[Citizen] = set()
        self.groupless_orders: list[Order] = []
        self.promotions: set[tuple[int, int, int]] = set()  # (day, kol, product)
        self.scandals_today: list[Product] = []
        self.decisions: dict[int, list[tuple[Incident, bool]]] = {}
        self.yesterday: list[Incident] = []
        self.reported: list[Incident] = []  # today's
        self.false_incidents: set[tuple] = set()
        self.falsely_flagged: set[int] = set()
        self.offended: set[int] = set()
        self.totals = Counter()
        self.today = Counter()

        self._build_world(citizens)
        self.datacollector = mesa.DataCollector(model_reporters=self._reporters())

    # -- the synthetic world -------------------------------------------------------------

    def _build_world(self, n):
        world = self.scenario["world"]
        rnd = self.random
        topics = world["topics"]
        self.topics = topics
        c = world["commerce"]
        # Topics by popularity (Zipf): food and fashion are more popular than others.
        exponent = world["interests"]["popularity_exponent"]
        topic_weights = [(t + 1) ** -exponent for t in range(topics)]
        # The catalogue: products per topic, most popular first, and travel tickets.
        self.products: list[Product] = []
        self.by_topic: list[list[Product]] = []
        for topic in range(topics):
            row = []
            for _ in range(c["products_per_topic"]):
                price = c["price_median_yuan"] * math.exp(c["price_sigma"] * rnd.gauss(0.0, 1.0))
                hazard = c["scandal_rate"] * rnd.gammavariate(0.5, 1.0) / 0.5
                p = Product(len(self.products), topic, max(round(price * 100), 1), False, min(hazard, 1.0))
                self.products.append(p)
                row.append(p)
            self.by_topic.append(row)
        self.travel_products = []
        for i in range(c["travel_products"]):
            low, high = (500.0, 2000.0) if i % 2 == 1 else (50.0, 500.0)
            price = low + (high - low) * rnd.random()
            p = Product(len(self.products), topics, round(price * 100), True, 0.0)
            self.products.append(p)
            self.travel_products.append(p)
        self.product_cumulative = zipf_cumulative(c["products_per_topic"], 1.0)
        # KOLs: a topic each; within a topic, popularity (followers) is Zipf by rank.
        kols_cfg = world["kols"]
        kol_count = max(round(n * kols_cfg["per_million"] / 1e6), 4)
        self.kols: list[KOL] = []
        kols_by_topic: list[list[KOL]] = [[] for _ in range(topics)]
        for kid in range(kol_count):
            topic = rnd.choices(range(topics), weights=topic_weights)[0]
            kol = KOL(self, kid, topic)
            self.kols.append(kol)
            kols_by_topic[topic].append(kol)
        kol_cumulative = [zipf_cumulative(len(v), kols_cfg["zipf_exponent"]) if v else None for v in kols_by_topic]
        # Citizens.
        mis = world["misconduct"]
        shape = mis["heterogeneity"]
        scale = mis["daily_rate_mean"] / shape
        sd = world["voting"]["disposition_sd"]
        buy_mean = c["buy_rate_mean"]
        region_cumulative = zipf_cumulative(world["regions"], 0.6)
        topic_range = range(topics)
        self.citizens: list[Citizen] = []
        for cid in range(n):
            # Three distinct topics by popularity; weights from a flat Dirichlet, sorted.
            chosen = []
            while len(chosen) < 3:
                t = rnd.choices(topic_range, weights=topic_weights)[0]
                if t not in chosen:
                    chosen.append(t)
            a, b = sorted((rnd.random(), rnd.random()))
            weights = sorted((a, b - a, 1.0 - b), reverse=True)
            propensity = min(rnd.gammavariate(shape, scale), 1.0)
            debt_offset = rnd.randrange(mis["debtor_report_days"]) if rnd.random() < mis["debtor_share"] else None
            region = bisect_right(region_cumulative, rnd.random())
            citizen = Citizen(
                self,
                cid,
                tuple(chosen),
                tuple(weights),
                propensity,
                rnd.gauss(0.0, sd),
                buy_mean * 2.0 * rnd.random(),
                debt_offset,
                min(region, world["regions"] - 1),
            )
            # Favourites go round the interests (two per topic), by popularity within it;
            # followed KOLs likewise, one per interest.
            citizen.favourites = [
                self.popular_product(chosen[i % 3]) for i in range(c["favourites"])
            ]
            for j in range(kols_cfg["follows_per_citizen"]):
                topic = chosen[j % 3]
                if kol_cumulative[topic] is not None:
                    i = min(bisect_right(kol_cumulative[topic], rnd.random()), len(kols_by_topic[topic]) - 1)
                    citizen.follows.append(kols_by_topic[topic][i])
            self.citizens.append(citizen)
        self._form_groups(n)

    def _form_groups(self, n):
        """Citizens sorted by interest key (main, second, third topic; then id), cut into
        balanced groups of min_size..=max_size."""
        rules = self.rules
        world = self.scenario["world"]
        sizes = balanced_sizes(n, rules.min_size, rules.max_size)
        order = sorted(self.citizens, key=lambda c: (c.topics, c.cid))
        self.groups: list[InterestGroup] = []
        start = 0
        for gid, size in enumerate(sizes):
            members = order[start : start + size]
            start += size
            centroid = [0.0] * self.topics
            for m in members:
                for t, w in zip(m.topics, m.weights):
                    centroid[t] += w
            centroid = [x / size for x in centroid]
            culture = self.random.gauss(0.0, world["voting"]["group_culture_sd"])
            group = InterestGroup(self, gid, members, centroid, culture)
            for m in members:
                m.group = group
            self.groups.append(group)
        for m in order[start:]:
            self.groupless.add(m)
        self.groups_by_key: dict[tuple, list[InterestGroup]] = {}
        self.groups_by_main: list[list[InterestGroup]] = [[] for _ in range(self.topics)]
        for g in self.groups:
            self.groups_by_key.setdefault(g.key, []).append(g)
            self.groups_by_main[g.main_topic].append(g)

    def popular_product(self, topic: int) -> Product:
        row = self.by_topic[topic]
        return row[min(bisect_right(self.product_cumulative, self.random.random()), len(row) - 1)]

    def random_kind(self) -> int:
        total = self.kind_cumulative[-1]
        return min(bisect_right(self.kind_cumulative, self.random.random() * total), len(self.kind_cumulative) - 1)

    def order_units(self) -> int:
        u = self.random.random()
        extra = 0 if u < self.p_no_extra_unit else poisson_after(u, self.extra_units_mean, self.p_no_extra_unit)
        return min(1 + extra, self.rules.max_units_per_order)

    def tie(self, a: Citizen, b: Citizen) -> float:
        """The lasting tie between two people, uniform in [0, 1), the same both ways."""
        x, y = (a.cid, b.cid) if a.cid < b.cid else (b.cid, a.cid)
        return mix64(mix64(self.seed ^ (x << 32) ^ y) ^ 0x5449455F) / 2.0**64

    def points_pull(self, tier: int, score: int) -> float:
        """Log-odds of "expel" added because the points matter to this voter."""
        rules = self.rules
        v = self.voting
        gap_down = score - rules.tier_min[tier] + 1
        gap_up = rules.tier_min[tier - 1] - score if tier > 0 else math.inf
        z = v["boundary_weight"] * math.exp(-max(min(gap_up, gap_down), 0) / v["boundary_scale"])
        if rules.tier_travel_banned[tier]:
            needed = rules.travel_score_needed(score)
            if needed is not None:
                z += v["banned_weight"] * math.exp(-(needed - score) / (5.0 * v["boundary_scale"]))
        return z

    def campaign_multiplier(self, day: int) -> float:
        doy = (self.start_day_of_year + day) % 365
        m = 1.0
        for c in self.scenario["world"]["commerce"].get("campaign_days", []):
            if (c["day_of_year"] + 365 - doy) % 365 < c["days"]:
                m *= c["multiplier"]
        return m

    # -- commands ------------------------------------------------------------------------

    def report_incident(self, citizen: Citizen, kind: int, innocent: bool):
        """The penalty applies now; the group-mates are notified when the day closes."""
        key = (self.day, citizen.cid, citizen.incidents_today)
        citizen.incidents_today += 1
        applied = citizen.change_score(-self.rules.penalties[kind])
        incident = Incident(key, citizen, kind, citizen.group, applied, innocent)
        if citizen.group is not None:
            citizen.group.incidents_today.append(incident)
        self.reported.append(incident)
        if innocent:
            self.false_incidents.add(key)
            self.falsely_flagged.add(citizen.cid)
            self.today["incidents_false"] += 1
        else:
            self.offended.add(citizen.cid)
            self.today["incidents_true"] += 1

    def expel(self, citizen: Citizen, incident: Incident, day: int):
        citizen.group = None
        citizen.eligible_day = day + self.rules.regroup_after_days
        self.groupless.add(citizen)
        self.today["expulsions"] += 1
        if incident.innocent:
            self.today["expulsions_innocent"] += 1

    # -- a day ---------------------------------------------------------------------------

    def step(self):
        d = self.day
        self.multiplier = self.campaign_multiplier(d)
        self.debt_day = d % self.debtor_report_days
        if self.commerce:
            self.scandals_today = [p for p in self.products if p.scandal_rate > 0 and self.random.random() < p.scandal_rate]
            self.agents_by_type[KOL].do("step")
        self.appeals(d)
        self.agents_by_type[InterestGroup].do("step")
        self.agents_by_type[Citizen].shuffle_do("step")
        self.close_day(d)
        self.datacollector.collect(self)
        self.totals.update(self.today)
        self.today = Counter()
        self.day += 1

    def appeals(self, d):
        a = self.scenario["world"]["appeals"]
        for incident, granted in self.decisions.pop(d, []):
            if granted:
                self.today["appeals_granted"] += 1
                incident.citizen.change_score(-incident.applied)
        rnd = self.random.random
        for incident in self.yesterday:
            if incident.innocent:
                file, grant = a["file_rate_false"], a["grant_rate_false"]
            else:
                file, grant = a["file_rate_true"], a["grant_rate_true"]
            if rnd() < file:
                incident.appeal = "filed"
                self.today["appeals"] += 1
                self.decisions.setdefault(d + a["review_days"], []).append((incident, rnd() < grant))
        self.yesterday = []

    def close_day(self, d):
        # 1-3 group by group: tally, deliver, settle.
        for group in self.groups:
            group.tally(d)
            group.deliver()
            group.settle()
        if self.groupless_orders:
            self.settle_pools(((o.product, [o]) for o in self.groupless_orders), pooled=False)
            self.groupless_orders = []
        # 4 KOLs.
        if self.commerce:
            self.update_kols(d)
        # 5 tiers.
        rules = self.rules
        for citizen in self.score_changed:
            citizen.tier = rules.tier_of(citizen.score)
        self.score_changed = set()
        # 6 regroup.
        self.regroup(d)
        for incident in self.reported:
            incident.citizen.incidents_today = 0
        self.yesterday, self.reported = self.reported, []

    def settle_pools(self, pools, pooled: bool):
        rules = self.rules
        today = self.today
        for product, orders in pools:
            units = sum(o.units for o in orders)
            group_bp, tier = rules.group_discount(units) if pooled else (0, 0)
            if pooled:
                today["pools"] += 1
                if tier:
                    today[f"pools_tier{tier}"] += 1
            for o in orders:
                unit, group_off, credit_off = unit_price(product.list_price, group_bp, o.credit_bp, rules.max_discount_bp)
                today["orders"] += 1
                today["units"] += o.units
                today["gmv"] += unit * o.units
                today["discount_group"] += group_off * o.units
                today["discount_credit"] += credit_off * o.units
                if o.kol is not None:
                    o.kol.units_sold += o.units

    def update_kols(self, d):
        rules = self.rules
        window = rules.scandal_window_days
        for product in self.scandals_today:
            hit = {kid for (day, kid, pid) in self.promotions if pid == product.pid and day + window >= d}
            for kid in hit:
                self.kols[kid].credibility *= rules.scandal_factor
            product.scandals.append(d)
            self.today["scandals"] += 1
        # Promotions whose window completes today without a scandal.
        if d >= window:
            start = d - window
            for day, kid, pid in self.promotions:
                if day == start and not any(day <= s <= d for s in self.products[pid].scandals):
                    kol = self.kols[kid]
                    kol.credibility += rules.success_gain * (1.0 - kol.credibility)
        keep_from = max(d - window, 0)
        self.promotions = {p for p in self.promotions if p[0] >= keep_from}

    def regroup(self, d):
        """Groupless citizens whose wait is over, in id order, join the most similar group
        with room (a group below min_size first)."""
        if not self.groups:
            return
        rules = self.rules
        eligible = sorted((c for c in self.groupless if c.eligible_day <= d), key=lambda c: c.cid)
        for citizen in eligible:
            chosen = None
            for candidates in self.placement_candidates(citizen):
                chosen = next((g for g in candidates if len(g.members) < rules.min_size), None)
                if chosen is None:
                    chosen = next((g for g in candidates if len(g.members) < rules.max_size), None)
                if chosen is not None:
                    break
            if chosen is not None:
                chosen.members.add(citizen)
                citizen.group = chosen
                self.groupless.discard(citizen)
                self.today["regrouped"] += 1

    def placement_candidates(self, citizen):
        """The 16 most similar groups of the citizen's interest key (else main topic); then
        every group of the main topic; then every group."""

        def ranked(groups, keep=None):
            scored = sorted(groups, key=lambda g: (-g.similarity(citizen), g.gid))
            return scored[:keep] if keep else scored

        same = self.groups_by_key.get(citizen.topics)
        first = ranked(same, 16) if same else ranked(self.groups_by_main[citizen.topics[0]], 16)
        yield first
        yield ranked(self.groups_by_main[citizen.topics[0]])
        yield ranked(self.groups)

    # -- what a run reports --------------------------------------------------------------

    def _reporters(self):
        counters = [
            "incidents_true", "incidents_false", "notices", "answers_expel", "answers_keep", "answers_none",
            "expulsions", "expulsions_innocent", "appeals", "appeals_granted", "regrouped", "orders",
            "orders_refused_travel", "gmv", "discount_group", "discount_credit", "pools",
            "pools_tier1", "pools_tier2", "pools_tier3", "scandals",
        ]
        reporters = {"day": lambda m: m.day, "groupless": lambda m: len(m.groupless)}
        for name in counters:
            reporters[name] = (lambda key: lambda m: m.today[key])(name)
        reporters["score_mean"] = lambda m: sum(c.score for c in m.citizens) / len(m.citizens)
        for i, name in enumerate(self.rules.tier_names):
            reporters[f"tier_{name}"] = (lambda i: lambda m: m.tier_counts()[i])(i)
        reporters["travel_banned"] = lambda m: sum(
            n for n, banned in zip(m.tier_counts(), m.rules.tier_travel_banned) if banned
        )
        reporters["kol_credibility_mean"] = lambda m: sum(k.credibility for k in m.kols) / max(len(m.kols), 1)
        reporters["group_size_mean"] = lambda m: sum(len(g.members) for g in m.groups) / max(len(m.groups), 1)
        return reporters

    def tier_counts(self) -> list[int]:
        # Computed once per day (the reporters ask several times).
        if getattr(self, "_tier_counts_day", None) != self.day:
            counts = Counter(c.tier for c in self.citizens)
            self._tier_counts = [counts.get(i, 0) for i in range(len(self.rules.tier_names))]
            self._tier_counts_day = self.day
        return self._tier_counts

    def summary(self) -> dict:
        t = self.totals
        banned_tiers = [i for i, b in enumerate(self.rules.tier_travel_banned) if b]
        banned = [c for c in self.citizens if c.tier in banned_tiers]
        counts = Counter(c.tier for c in self.citizens)
        n = len(self.citizens)
        incidents = t["incidents_true"] + t["incidents_false"]
        return {
            "implementation": "mesa",
            "mesa_version": mesa.__version__,
            "seed": self.seed,
            "days": self.day,
            "citizens": n,
            "groups": len(self.groups),
            "totals": {
                "incidents_true": t["incidents_true"],
                "incidents_false": t["incidents_false"],
                "people_falsely_flagged": len(self.falsely_flagged),
                "notices": t["notices"],
                "answers_expel": t["answers_expel"],
                "answers_keep": t["answers_keep"],
                "answers_none": t["answers_none"],
                "expulsions": t["expulsions"],
                "expulsions_innocent": t["expulsions_innocent"],
                "appeals": t["appeals"],
                "appeals_granted": t["appeals_granted"],
                "orders": t["orders"],
                "orders_refused_travel": t["orders_refused_travel"],
                "gmv_yuan": t["gmv"] / 100.0,
                "discount_group_yuan": t["discount_group"] / 100.0,
                "discount_credit_yuan": t["discount_credit"] / 100.0,
                "pools": t["pools"],
                "pools_by_tier": [t["pools_tier1"], t["pools_tier2"], t["pools_tier3"]],
                "scandals": t["scandals"],
                "travel_banned_end": len(banned),
                "banned_never_offended_end": sum(1 for c in banned if c.cid not in self.offended),
            },
            "final_tiers": {name: counts.get(i, 0) for i, name in enumerate(self.rules.tier_names)},
            "score_mean_end": sum(c.score for c in self.citizens) / n,
            "headline": {
                "expulsions_per_incident": t["expulsions"] / incidents if incidents else 0.0,
                "expulsions_per_1000_citizens_year": t["expulsions"] / n * 1000 * 365 / max(self.day, 1),
                "banned_share_end": len(banned) / n,
                "innocent_share_of_expulsions": t["expulsions_innocent"] / t["expulsions"] if t["expulsions"] else 0.0,
            },
        }


def balanced_sizes(n: int, lo: int, hi: int) -> list[int]:
    """Sizes of balanced groups covering n citizens within [lo, hi] (xinyong's rule)."""
    if n < lo:
        return []
    target = (lo + hi) // 2
    lowest = -(-n // hi)
    highest = n // lo
    if lowest <= highest:
        k = max(min(max(math.floor(n / target + 0.5), lowest), highest), 1)
        covered = n
    else:
        k, covered = highest, min(highest * hi, n)
    base, extra = divmod(covered, k)
    return [base + (1 if i < extra else 0) for i in range(k)]
