//! Customer-profit analytics: contribution, margin, period changes and profit tiers.

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate};

use crate::parties::companies::Tier;
use crate::platform::money::{add_minor, BP_SCALE};
use crate::Violation;

/// One customer's figures for a period, in minor units of one currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    /// Net sales (after discounts, before tax) of orders not cancelled.
    pub revenue_minor: i64,
    /// Cost of goods of those orders.
    pub cost_minor: i64,
    /// Credit notes and refunds (net of tax).
    pub returns_minor: i64,
    /// Concessions given to customers who kept returned items.
    pub concessions_minor: i64,
    pub orders: i64,
    pub units_milli: i64,
}

impl Figures {
    /// Adds `other`, or fails when a sum leaves the range of i64: a report says so (422)
    /// rather than print a wrapped figure.
    pub fn add(&mut self, other: &Figures) -> Result<(), Violation> {
        self.revenue_minor = add_minor("revenue", self.revenue_minor, other.revenue_minor)?;
        self.cost_minor = add_minor("cost", self.cost_minor, other.cost_minor)?;
        self.returns_minor = add_minor("returns", self.returns_minor, other.returns_minor)?;
        self.concessions_minor = add_minor(
            "concessions",
            self.concessions_minor,
            other.concessions_minor,
        )?;
        self.orders = add_minor("orders", self.orders, other.orders)?;
        self.units_milli = add_minor("units", self.units_milli, other.units_milli)?;
        Ok(())
    }

    /// The sum of `figures`.
    pub fn total<'a>(figures: impl IntoIterator<Item = &'a Figures>) -> Result<Figures, Violation> {
        let mut total = Figures::default();
        for f in figures {
            total.add(f)?;
        }
        Ok(total)
    }

    pub fn gross_profit_minor(&self) -> i64 {
        self.revenue_minor - self.cost_minor - self.returns_minor - self.concessions_minor
    }

    /// Gross profit over revenue, in basis points (truncated); none without revenue.
    pub fn margin_bp(&self) -> Option<i64> {
        (self.revenue_minor != 0).then(|| {
            i64::try_from(
                i128::from(self.gross_profit_minor()) * i128::from(BP_SCALE)
                    / i128::from(self.revenue_minor),
            )
            .unwrap_or(0)
        })
    }

    /// Revenue per order, rounded half away from zero; none without orders.
    pub fn average_order_value_minor(&self) -> Option<i64> {
        (self.orders != 0).then(|| {
            let q = self.revenue_minor / self.orders;
            let r = self.revenue_minor % self.orders;
            if r.abs() * 2 >= self.orders.abs() {
                q + self.revenue_minor.signum()
            } else {
                q
            }
        })
    }
}

/// Change from `before` to `now` in basis points of `before`; none when `before` is zero.
pub fn change_bp(now: i64, before: i64) -> Option<i64> {
    (before != 0).then(|| {
        i64::try_from(
            (i128::from(now) - i128::from(before)) * i128::from(BP_SCALE)
                / i128::from(before).abs(),
        )
        .unwrap_or(0)
    })
}

/// Profit tiers by cumulative share of the period's positive profit contribution.
///
/// **The rule.** Customers are ranked by gross profit, highest first (ties by id). A customer
/// whose profit is zero or negative is C. Otherwise, with `share_before` the cumulative share of
/// the total positive profit held by the customers ranked above it: A when `share_before` is
/// below `a_up_to_bp` (80% by default), B when below `b_up_to_bp` (95%), else C. So A is the
/// smallest set of top customers that together make at least 80% of the profit.
pub fn assign_tiers(
    customers: &[(String, i64)],
    a_up_to_bp: i64,
    b_up_to_bp: i64,
) -> Vec<(String, Tier)> {
    let mut ranked: Vec<&(String, i64)> = customers.iter().collect();
    ranked.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
    let total: i128 = ranked
        .iter()
        .filter(|c| c.1 > 0)
        .map(|c| i128::from(c.1))
        .sum();
    let mut before: i128 = 0;
    ranked
        .into_iter()
        .map(|(id, profit)| {
            let tier = if *profit <= 0 || total == 0 {
                Tier::C
            } else {
                let share_before_bp = before * i128::from(BP_SCALE) / total;
                before += i128::from(*profit);
                if share_before_bp < i128::from(a_up_to_bp) {
                    Tier::A
                } else if share_before_bp < i128::from(b_up_to_bp) {
                    Tier::B
                } else {
                    Tier::C
                }
            };
            (id.clone(), tier)
        })
        .collect()
}

/// One product's figures for a period, in minor units of one currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProductFigures {
    /// Net sales (after discounts, before tax) on orders not cancelled.
    pub revenue_minor: i64,
    /// Cost of goods of those lines, at the cost snapshotted on each order, less the cost of
    /// units that came back into stock.
    pub cost_minor: i64,
    pub units_milli: i64,
    /// Units on resolved returns, counted in the month of the resolution.
    pub returned_units_milli: i64,
    /// What was refunded, credited or conceded on these sales (net of tax), in the month it
    /// was, so that net sales count only what the customer kept.
    pub returns_minor: i64,
}

impl ProductFigures {
    /// Adds `other`, or fails when a sum leaves the range of i64 (a report answers 422).
    pub fn add(&mut self, other: &ProductFigures) -> Result<(), Violation> {
        self.revenue_minor = add_minor("revenue", self.revenue_minor, other.revenue_minor)?;
        self.cost_minor = add_minor("cost", self.cost_minor, other.cost_minor)?;
        self.units_milli = add_minor("units", self.units_milli, other.units_milli)?;
        self.returned_units_milli = add_minor(
            "returned_units",
            self.returned_units_milli,
            other.returned_units_milli,
        )?;
        self.returns_minor = add_minor("returns", self.returns_minor, other.returns_minor)?;
        Ok(())
    }

    pub fn negated(&self) -> ProductFigures {
        ProductFigures {
            revenue_minor: -self.revenue_minor,
            cost_minor: -self.cost_minor,
            units_milli: -self.units_milli,
            returned_units_milli: -self.returned_units_milli,
            returns_minor: -self.returns_minor,
        }
    }

    /// Net sales less what was refunded, credited or conceded on them.
    pub fn net_sales_minor(&self) -> i64 {
        self.revenue_minor - self.returns_minor
    }

    pub fn gross_margin_minor(&self) -> i64 {
        self.net_sales_minor() - self.cost_minor
    }

    /// Gross margin over net sales, in basis points (truncated); none without positive net
    /// sales: more given back than sold is no margin at all, not a negative over a negative.
    pub fn margin_bp(&self) -> Option<i64> {
        (self.net_sales_minor() > 0)
            .then(|| ratio_bp(self.gross_margin_minor(), self.net_sales_minor()))
            .flatten()
    }

    /// Returned units over sold units, in basis points (truncated); none without sales.
    pub fn return_rate_bp(&self) -> Option<i64> {
        ratio_bp(self.returned_units_milli, self.units_milli)
    }
}

/// Splits `amount` over `weights` in proportion, to the cent: the shares are truncated and
/// the cents left go to the largest remainders (ties to the first), so they add up to
/// `amount` exactly. None when the weights add up to zero.
pub fn allocate(amount: i64, weights: &[i64]) -> Option<Vec<i64>> {
    let total: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    if total == 0 {
        return None;
    }
    let mut shares = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    for (i, weight) in weights.iter().enumerate() {
        let exact = i128::from(amount) * i128::from(*weight);
        shares.push(exact / total);
        remainders.push(((exact % total).abs(), i));
    }
    let mut left = i128::from(amount) - shares.iter().sum::<i128>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in remainders {
        if left == 0 {
            break;
        }
        let step = left.signum();
        shares[i] += step;
        left -= step;
    }
    shares.into_iter().map(|s| i64::try_from(s).ok()).collect()
}

/// Whom each amount of a credit or refund is taken from: the amounts with a key (a credit
/// line of a sold product) go to it; the rest (a restocking fee, a concession) is spread over
/// the keyed amounts in proportion, or over `fallback` (what the credited document sold) when
/// none is keyed, or left to the default key when there is nothing to spread over.
pub fn attribute<K: Clone + Ord + Default>(
    amounts: &[(Option<K>, i64)],
    fallback: &[(K, i64)],
) -> Result<BTreeMap<K, i64>, Violation> {
    let mut attributed: BTreeMap<K, i64> = BTreeMap::new();
    let mut unkeyed: i64 = 0;
    for (key, amount) in amounts {
        match key {
            Some(key) => {
                let entry = attributed.entry(key.clone()).or_default();
                *entry = add_minor("returns", *entry, *amount)?;
            }
            None => unkeyed = add_minor("returns", unkeyed, *amount)?,
        }
    }
    if unkeyed == 0 {
        return Ok(attributed);
    }
    let over: Vec<(K, i64)> = if attributed.values().any(|a| *a != 0) {
        attributed.iter().map(|(k, a)| (k.clone(), *a)).collect()
    } else {
        fallback.to_vec()
    };
    let weights: Vec<i64> = over.iter().map(|(_, w)| *w).collect();
    match allocate(unkeyed, &weights) {
        Some(shares) => {
            for ((key, _), share) in over.into_iter().zip(shares) {
                let entry = attributed.entry(key).or_default();
                *entry = add_minor("returns", *entry, share)?;
            }
        }
        None => {
            let entry = attributed.entry(K::default()).or_default();
            *entry = add_minor("returns", *entry, unkeyed)?;
        }
    }
    Ok(attributed)
}

fn ratio_bp(part: i64, whole: i64) -> Option<i64> {
    (whole != 0).then(|| {
        i64::try_from(i128::from(part) * i128::from(BP_SCALE) / i128::from(whole)).unwrap_or(0)
    })
}

/// A product's profit tier from its margin: A from `a_from_bp` up, B from `b_from_bp` up,
/// else C. A product without revenue in the period is C.
pub fn product_tier(margin_bp: Option<i64>, a_from_bp: i64, b_from_bp: i64) -> Tier {
    match margin_bp {
        Some(m) if m >= a_from_bp => Tier::A,
        Some(m) if m >= b_from_bp => Tier::B,
        _ => Tier::C,
    }
}

/// Commission rates per product profit tier, in basis points of net sales.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommissionRates {
    pub a_bp: i64,
    pub b_bp: i64,
    pub c_bp: i64,
}

impl CommissionRates {
    /// Each rate must lie in 0..=10000 (0% to 100%).
    pub fn validate(&self) -> Result<(), crate::Violations> {
        let mut violations = crate::Violations::default();
        for (field, rate) in [
            ("a_bp", self.a_bp),
            ("b_bp", self.b_bp),
            ("c_bp", self.c_bp),
        ] {
            if !(0..=BP_SCALE).contains(&rate) {
                violations.push(crate::Violation::new(field, "must be from 0 to 10000"));
            }
        }
        violations.into_result()
    }

    pub fn rate_bp(&self, tier: Tier) -> i64 {
        match tier {
            Tier::A => self.a_bp,
            Tier::B => self.b_bp,
            Tier::C => self.c_bp,
        }
    }
}

/// `rate_bp` of `sales_minor`, rounded half away from zero like every other amount.
pub fn commission_minor(sales_minor: i64, rate_bp: i64) -> i64 {
    let product = i128::from(sales_minor) * i128::from(rate_bp);
    let scale = i128::from(BP_SCALE);
    let rounded = (product.abs() + scale / 2) / scale * product.signum();
    i64::try_from(rounded).unwrap_or(0)
}

/// Net sales per (product id, salesperson id); `""` stands for lines without a catalogue product
/// and orders without a salesperson.
pub type ProductSales = BTreeMap<(String, String), ProductFigures>;

/// The margins from which a product is tier A or B, in basis points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProductTierThresholds {
    pub a_from_bp: i64,
    pub b_from_bp: i64,
}

impl ProductTierThresholds {
    pub fn tier(&self, figures: &ProductFigures) -> Tier {
        product_tier(figures.margin_bp(), self.a_from_bp, self.b_from_bp)
    }
}

/// Each product's figures over every salesperson.
pub fn product_totals(sales: &ProductSales) -> Result<BTreeMap<String, ProductFigures>, Violation> {
    let mut totals: BTreeMap<String, ProductFigures> = BTreeMap::new();
    for ((product, _), figures) in sales {
        totals.entry(product.clone()).or_default().add(figures)?;
    }
    Ok(totals)
}

/// One tier of a salesperson's commission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierCommission {
    pub tier: Tier,
    pub sales_minor: i64,
    pub rate_bp: i64,
    pub commission_minor: i64,
}

/// A salesperson's commission, tier by tier (A, B, then C).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalespersonCommission {
    pub salesperson_id: String,
    pub tiers: Vec<TierCommission>,
    pub total_minor: i64,
}

/// Every salesperson's (or only `only`'s) commission: net sales (less what was refunded,
/// credited or conceded on them) split by the tier of the product sold, times the tier's
/// rate. A product's tier comes from its margin over all of `sales`, so that everyone is paid
/// on the same tiering; lines without a catalogue product are unranked. Sales without a
/// salesperson earn nobody anything.
pub fn commissions(
    sales: &ProductSales,
    rates: &CommissionRates,
    thresholds: ProductTierThresholds,
    only: Option<&str>,
) -> Result<Vec<SalespersonCommission>, Violation> {
    let tiers: BTreeMap<String, Tier> = product_totals(sales)?
        .into_iter()
        .map(|(product, figures)| {
            let tier = if product.is_empty() {
                Tier::UNRANKED
            } else {
                thresholds.tier(&figures)
            };
            (product, tier)
        })
        .collect();
    let mut per_person: BTreeMap<&str, BTreeMap<Tier, i64>> = BTreeMap::new();
    for ((product, salesperson), figures) in sales {
        if salesperson.is_empty() || only.is_some_and(|only| only != salesperson) {
            continue;
        }
        let tier = tiers.get(product).copied().unwrap_or(Tier::UNRANKED);
        let sales_minor = per_person
            .entry(salesperson)
            .or_default()
            .entry(tier)
            .or_default();
        *sales_minor = add_minor("sales", *sales_minor, figures.net_sales_minor())?;
    }
    per_person
        .into_iter()
        .map(|(id, by_tier)| {
            let tiers: Vec<TierCommission> = Tier::ALL
                .iter()
                .map(|tier| {
                    let sales_minor = by_tier.get(tier).copied().unwrap_or(0);
                    let rate_bp = rates.rate_bp(*tier);
                    TierCommission {
                        tier: *tier,
                        sales_minor,
                        rate_bp,
                        commission_minor: commission_minor(sales_minor, rate_bp),
                    }
                })
                .collect();
            let total_minor = tiers
                .iter()
                .try_fold(0, |sum, t| add_minor("commission", sum, t.commission_minor))?;
            Ok(SalespersonCommission {
                salesperson_id: id.to_owned(),
                total_minor,
                tiers,
            })
        })
        .collect()
}

/// A customer's place in the profit ranking of a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RankedCustomer {
    pub company_id: String,
    pub figures: Figures,
    /// Its share of the period's total positive profit, in basis points.
    pub share_bp: i64,
    /// The share of the customers ranked above it and its own.
    pub cumulative_share_bp: i64,
    /// 1 for the most profitable.
    pub profit_rank: i64,
    /// 1 for the most orders.
    pub volume_rank: i64,
}

/// `amount` as a share of `positive`, in basis points (truncated); 0 when nothing is positive.
fn share_bp(amount: i128, positive: i128) -> i64 {
    if positive == 0 {
        0
    } else {
        i64::try_from(amount * i128::from(BP_SCALE) / positive).unwrap_or(0)
    }
}

/// Where one customer stands in a ranking, as an index over the whole period tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RankPosition {
    pub company_id: String,
    pub figures: Figures,
    pub profit_rank: i64,
    pub volume_rank: i64,
    /// The positive profit of every customer ranked above it by profit.
    pub positive_profit_above: i128,
}

/// The ranking entries of customers read one page at a time, with shares of `positive_total`
/// (the period's positive profit): the same entries [`rank_customers`] gives them.
pub fn ranked_at(positions: Vec<RankPosition>, positive_total: i128) -> Vec<RankedCustomer> {
    positions
        .into_iter()
        .map(|p| {
            let own = i128::from(p.figures.gross_profit_minor().max(0));
            RankedCustomer {
                share_bp: share_bp(own, positive_total),
                cumulative_share_bp: share_bp(p.positive_profit_above + own, positive_total),
                company_id: p.company_id,
                figures: p.figures,
                profit_rank: p.profit_rank,
                volume_rank: p.volume_rank,
            }
        })
        .collect()
}

/// The order a ranking is listed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RankOrder {
    Profit,
    Volume,
}

/// Ranks the customers of a period by profit, ties by id, with each one's share of the
/// positive profit (losses count as none) and its rank by order volume; listed in `order`.
pub fn rank_customers(totals: &BTreeMap<String, Figures>, order: RankOrder) -> Vec<RankedCustomer> {
    let mut by_volume: Vec<(&String, &Figures)> = totals.iter().collect();
    by_volume.sort_by(|a, b| b.1.orders.cmp(&a.1.orders).then_with(|| a.0.cmp(b.0)));
    let volume_rank: BTreeMap<&String, i64> = (1..)
        .zip(by_volume)
        .map(|(rank, (id, _))| (id, rank))
        .collect();
    let mut by_profit: Vec<(&String, &Figures)> = totals.iter().collect();
    by_profit.sort_by(|a, b| {
        b.1.gross_profit_minor()
            .cmp(&a.1.gross_profit_minor())
            .then_with(|| a.0.cmp(b.0))
    });
    let positive: i128 = by_profit
        .iter()
        .map(|(_, f)| i128::from(f.gross_profit_minor().max(0)))
        .sum();
    let share = |amount: i128| share_bp(amount, positive);
    let mut cumulative: i128 = 0;
    let mut ranked: Vec<RankedCustomer> = (1..)
        .zip(by_profit)
        .map(|(profit_rank, (id, figures))| {
            let profit = i128::from(figures.gross_profit_minor().max(0));
            cumulative += profit;
            RankedCustomer {
                company_id: id.clone(),
                figures: *figures,
                share_bp: share(profit),
                cumulative_share_bp: share(cumulative),
                profit_rank,
                volume_rank: volume_rank.get(id).copied().unwrap_or(0),
            }
        })
        .collect();
    if order == RankOrder::Volume {
        ranked.sort_by_key(|r| r.volume_rank);
    }
    ranked
}

/// How a profit series is grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Month,
    Quarter,
    Year,
}

impl Granularity {
    /// The period a month falls in: `2026-03`, `2026-Q1` or `2026`.
    pub fn period_of(self, month: NaiveDate) -> String {
        match self {
            Granularity::Month => month.format("%Y-%m").to_string(),
            Granularity::Quarter => format!("{}-Q{}", month.year(), (month.month() - 1) / 3 + 1),
            Granularity::Year => month.year().to_string(),
        }
    }

    /// The first month of the period that contains `month`.
    pub fn period_start(self, month: NaiveDate) -> NaiveDate {
        let first = match self {
            Granularity::Month => month.month(),
            Granularity::Quarter => (month.month() - 1) / 3 * 3 + 1,
            Granularity::Year => 1,
        };
        NaiveDate::from_ymd_opt(month.year(), first, 1).unwrap_or(month)
    }

    pub fn step(self) -> Months {
        Months::new(match self {
            Granularity::Month => 1,
            Granularity::Quarter => 3,
            Granularity::Year => 12,
        })
    }
}

/// One period of a profit series, beside the period before it and the same period a year
/// earlier, which its changes are measured against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodFigures {
    pub period: String,
    pub now: Figures,
    pub previous: Figures,
    pub last_year: Figures,
}

impl PeriodFigures {
    pub fn gross_profit_change_vs_previous_bp(&self) -> Option<i64> {
        change_bp(
            self.now.gross_profit_minor(),
            self.previous.gross_profit_minor(),
        )
    }

    pub fn gross_profit_change_vs_last_year_bp(&self) -> Option<i64> {
        change_bp(
            self.now.gross_profit_minor(),
            self.last_year.gross_profit_minor(),
        )
    }

    pub fn revenue_change_vs_previous_bp(&self) -> Option<i64> {
        change_bp(self.now.revenue_minor, self.previous.revenue_minor)
    }

    pub fn revenue_change_vs_last_year_bp(&self) -> Option<i64> {
        change_bp(self.now.revenue_minor, self.last_year.revenue_minor)
    }
}

/// The periods from the one holding `from` to the one holding `to`, from monthly figures that
/// reach back a year before `from` (for the comparisons). Months without figures count as zero.
pub fn profit_series(
    months: &[(NaiveDate, Figures)],
    from: NaiveDate,
    to: NaiveDate,
    granularity: Granularity,
) -> Result<Vec<PeriodFigures>, Violation> {
    let mut grouped: BTreeMap<String, Figures> = BTreeMap::new();
    for (month, figures) in months {
        grouped
            .entry(granularity.period_of(*month))
            .or_default()
            .add(figures)?;
    }
    let figures_of = |month: NaiveDate| {
        grouped
            .get(&granularity.period_of(month))
            .copied()
            .unwrap_or_default()
    };
    let mut periods = Vec::new();
    let mut start = granularity.period_start(from);
    while start <= to {
        periods.push(PeriodFigures {
            period: granularity.period_of(start),
            now: figures_of(start),
            previous: figures_of(start - granularity.step()),
            last_year: figures_of(start - Months::new(12)),
        });
        start = start + granularity.step();
    }
    Ok(periods)
}

/// How many customers a tier recompute placed in each tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierCounts {
    pub a: i64,
    pub b: i64,
    pub c: i64,
}

impl TierCounts {
    /// The counts of `assigned` among `tiered` live customers; those the ranking did not
    /// reach are unranked.
    pub fn of(assigned: &[(String, Tier)], tiered: usize) -> Self {
        let count = |t: Tier| {
            i64::try_from(assigned.iter().filter(|(_, tier)| *tier == t).count()).unwrap_or(0)
        };
        let (a, b) = (count(Tier::A), count(Tier::B));
        TierCounts {
            a,
            b,
            c: i64::try_from(tiered).unwrap_or(0) - a - b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_past_i64_are_refused_not_wrapped() {
        let huge = Figures {
            revenue_minor: i64::MAX,
            ..Figures::default()
        };
        let one = Figures {
            revenue_minor: 1,
            ..Figures::default()
        };
        assert_eq!(Figures::total([&huge, &one]).unwrap_err().field, "revenue");
        assert_eq!(Figures::total([&one, &one]).unwrap().revenue_minor, 2);
    }

    #[test]
    fn product_margin_return_rate_and_tier() {
        let f = ProductFigures {
            revenue_minor: 20_000,
            cost_minor: 12_000,
            units_milli: 8_000,
            returned_units_milli: 1_000,
            returns_minor: 0,
        };
        assert_eq!(f.margin_bp(), Some(4_000));
        assert_eq!(f.return_rate_bp(), Some(1_250));
        assert_eq!(product_tier(f.margin_bp(), 4_000, 2_000), Tier::A);
        assert_eq!(product_tier(Some(3_999), 4_000, 2_000), Tier::B);
        assert_eq!(product_tier(Some(1_999), 4_000, 2_000), Tier::C);
        assert_eq!(product_tier(None, 4_000, 2_000), Tier::C);
        assert_eq!(ProductFigures::default().return_rate_bp(), None);
    }

    #[test]
    fn commission_rounds_half_away_from_zero() {
        assert_eq!(commission_minor(10_001, 500), 500);
        assert_eq!(commission_minor(10_010, 500), 501);
        assert_eq!(commission_minor(-10_010, 500), -501);
        assert_eq!(commission_minor(12_345, 0), 0);
    }

    #[test]
    fn commission_rates_are_percentages() {
        let fine = CommissionRates {
            a_bp: 10_000,
            b_bp: 0,
            c_bp: 100,
        };
        assert!(fine.validate().is_ok());
        let bad = CommissionRates {
            a_bp: 10_001,
            b_bp: -1,
            c_bp: 0,
        };
        assert_eq!(bad.validate().unwrap_err().0.len(), 2);
    }

    #[test]
    fn contribution_margin_and_aov() {
        let f = Figures {
            revenue_minor: 10_000,
            cost_minor: 6_000,
            returns_minor: 1_000,
            concessions_minor: 500,
            orders: 3,
            units_milli: 0,
        };
        assert_eq!(f.gross_profit_minor(), 2_500);
        assert_eq!(f.margin_bp(), Some(2_500));
        assert_eq!(f.average_order_value_minor(), Some(3_333));
        assert_eq!(Figures::default().margin_bp(), None);
    }

    #[test]
    fn changes_are_relative_to_the_earlier_period() {
        assert_eq!(change_bp(150, 100), Some(5_000));
        assert_eq!(change_bp(50, 100), Some(-5_000));
        assert_eq!(change_bp(50, -100), Some(15_000));
        assert_eq!(change_bp(1, 0), None);
    }

    #[test]
    fn tiers_follow_profit_not_volume() {
        let customers = vec![
            ("big-volume-low-profit".to_owned(), 1_000),
            ("a".to_owned(), 50_000),
            ("b".to_owned(), 30_000),
            ("c".to_owned(), 15_000),
            ("d".to_owned(), 4_000),
            ("loss".to_owned(), -2_000),
            ("zero".to_owned(), 0),
        ];
        let tiers: std::collections::HashMap<String, Tier> =
            assign_tiers(&customers, 8_000, 9_500).into_iter().collect();
        assert_eq!(tiers["a"], Tier::A, "0% before");
        assert_eq!(tiers["b"], Tier::A, "50% before");
        assert_eq!(tiers["c"], Tier::B, "80% before");
        assert_eq!(tiers["d"], Tier::C, "95% before");
        assert_eq!(tiers["big-volume-low-profit"], Tier::C);
        assert_eq!(tiers["loss"], Tier::C);
        assert_eq!(tiers["zero"], Tier::C);
    }

    #[test]
    fn a_single_customer_is_a() {
        assert_eq!(
            assign_tiers(&[("only".into(), 5)], 8_000, 9_500)[0].1,
            Tier::A
        );
    }

    #[test]
    fn commissions_follow_the_products_tier_over_every_salesperson() {
        let figures = |revenue_minor: i64, cost_minor: i64| ProductFigures {
            revenue_minor,
            cost_minor,
            ..ProductFigures::default()
        };
        let sales: ProductSales = [
            // The widget earns 50% over both salespeople: tier A for both.
            (
                ("widget".to_owned(), "ana".to_owned()),
                figures(10_000, 2_000),
            ),
            (
                ("widget".to_owned(), "luis".to_owned()),
                figures(10_000, 8_000),
            ),
            // A line without a product is unranked.
            ((String::new(), "ana".to_owned()), figures(1_000, 0)),
            // Sales without a salesperson are nobody's.
            (("widget".to_owned(), String::new()), figures(5_000, 0)),
        ]
        .into_iter()
        .collect();
        let rates = CommissionRates {
            a_bp: 500,
            b_bp: 300,
            c_bp: 100,
        };
        let thresholds = ProductTierThresholds {
            a_from_bp: 4_000,
            b_from_bp: 2_000,
        };
        let all = commissions(&sales, &rates, thresholds, None).unwrap();
        assert_eq!(all.len(), 2);
        let ana = &all[0];
        assert_eq!(ana.salesperson_id, "ana");
        assert_eq!(
            ana.tiers[0],
            TierCommission {
                tier: Tier::A,
                sales_minor: 10_000,
                rate_bp: 500,
                commission_minor: 500
            }
        );
        assert_eq!(
            ana.tiers[2],
            TierCommission {
                tier: Tier::C,
                sales_minor: 1_000,
                rate_bp: 100,
                commission_minor: 10
            }
        );
        assert_eq!(ana.total_minor, 510);
        assert_eq!(
            all[1].tiers[0].sales_minor, 10_000,
            "luis is paid on the widget's tier, A"
        );
        let only = commissions(&sales, &rates, thresholds, Some("luis")).unwrap();
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].total_minor, 500);
    }

    #[test]
    fn commissions_are_net_of_returns_and_returns_can_lower_the_tier() {
        let rates = CommissionRates {
            a_bp: 1_000,
            b_bp: 500,
            c_bp: 100,
        };
        let thresholds = ProductTierThresholds {
            a_from_bp: 4_000,
            b_from_bp: 2_000,
        };
        let sold = ProductFigures {
            revenue_minor: 10_000,
            cost_minor: 5_000,
            ..ProductFigures::default()
        };
        let key = ("widget".to_owned(), "ana".to_owned());
        let before: ProductSales = [(key.clone(), sold)].into_iter().collect();
        let paid = commissions(&before, &rates, thresholds, None).unwrap();
        assert_eq!(
            paid[0].total_minor, 1_000,
            "50% margin: tier A, 10% of 100.00"
        );
        let returned = ProductFigures {
            returns_minor: 2_000,
            ..sold
        };
        let after: ProductSales = [(key, returned)].into_iter().collect();
        let paid = commissions(&after, &rates, thresholds, None).unwrap();
        assert_eq!(returned.margin_bp(), Some(3_750));
        let all_back = ProductFigures {
            returns_minor: 10_000,
            cost_minor: 20_000,
            ..sold
        };
        assert_eq!(all_back.margin_bp(), None, "no net sales, so tier C");
        assert_eq!(
            paid[0].tiers[1].sales_minor, 8_000,
            "tier B on what was kept"
        );
        assert_eq!(paid[0].total_minor, 400);
    }

    #[test]
    fn product_sums_are_checked() {
        let huge = ProductFigures {
            returns_minor: i64::MAX,
            ..ProductFigures::default()
        };
        let sales: ProductSales = [
            (("a".to_owned(), "ana".to_owned()), huge),
            (("a".to_owned(), "luis".to_owned()), huge),
        ]
        .into_iter()
        .collect();
        assert_eq!(product_totals(&sales).unwrap_err().field, "returns");
        let mut one = huge;
        assert!(one.add(&huge).is_err());
    }

    #[test]
    fn allocation_adds_up_to_the_cent() {
        assert_eq!(allocate(100, &[1, 1, 1]), Some(vec![34, 33, 33]));
        assert_eq!(allocate(-100, &[1, 1, 1]), Some(vec![-34, -33, -33]));
        assert_eq!(allocate(10, &[3_000, 7_000]), Some(vec![3, 7]));
        assert_eq!(allocate(5, &[0, 0]), None);
        for amount in [-997, -1, 0, 1, 2, 999, 1_000_003] {
            let shares = allocate(amount, &[7, 13, 0, 29, 1]).unwrap();
            assert_eq!(shares.iter().sum::<i64>(), amount);
            assert_eq!(shares[2], 0);
        }
    }

    #[test]
    fn unkeyed_amounts_follow_the_keyed_ones_or_the_fallback() {
        let fee = attribute(
            &[(Some("a"), 6_000), (Some("b"), 4_000), (None, -1_000)],
            &[],
        )
        .unwrap();
        assert_eq!(fee, [("a", 5_400), ("b", 3_600)].into_iter().collect());
        let concession = attribute(&[(None, 1_001)], &[("a", 1), ("b", 1)]).unwrap();
        assert_eq!(concession, [("a", 501), ("b", 500)].into_iter().collect());
        let nowhere = attribute(&[(None, 700)], &[]).unwrap();
        assert_eq!(nowhere, [("", 700)].into_iter().collect());
    }

    #[test]
    fn customers_rank_by_profit_with_shares_of_the_positive_profit() {
        let figures = |revenue_minor: i64, cost_minor: i64, orders: i64| Figures {
            revenue_minor,
            cost_minor,
            orders,
            ..Figures::default()
        };
        let totals: BTreeMap<String, Figures> = [
            ("a".to_owned(), figures(10_000, 7_000, 1)),
            ("b".to_owned(), figures(10_000, 9_000, 5)),
            ("c".to_owned(), figures(1_000, 2_000, 2)),
        ]
        .into_iter()
        .collect();
        let ranked = rank_customers(&totals, RankOrder::Profit);
        let ids: Vec<&str> = ranked.iter().map(|r| r.company_id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(ranked[0].share_bp, 7_500);
        assert_eq!(ranked[1].cumulative_share_bp, 10_000);
        assert_eq!(ranked[2].share_bp, 0, "a loss is no share");
        assert_eq!((ranked[0].volume_rank, ranked[1].volume_rank), (3, 1));
        let by_volume = rank_customers(&totals, RankOrder::Volume);
        assert_eq!(by_volume[0].company_id, "b");
        assert_eq!(by_volume[0].profit_rank, 2);
    }

    #[test]
    fn a_page_ranked_from_its_positions_equals_the_whole_ranking() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for _ in 0..200 {
            let totals: BTreeMap<String, Figures> = (0..rng.gen_range(0..30))
                .map(|i| {
                    let figures = Figures {
                        revenue_minor: rng.gen_range(0..5_000),
                        cost_minor: rng.gen_range(0..5_000),
                        orders: rng.gen_range(0..4),
                        ..Figures::default()
                    };
                    (format!("c{i:02}"), figures)
                })
                .collect();
            let whole = rank_customers(&totals, RankOrder::Profit);
            let positive: i128 = whole
                .iter()
                .map(|r| i128::from(r.figures.gross_profit_minor().max(0)))
                .sum();
            let positions = whole
                .iter()
                .map(|r| RankPosition {
                    company_id: r.company_id.clone(),
                    figures: r.figures,
                    profit_rank: r.profit_rank,
                    volume_rank: r.volume_rank,
                    positive_profit_above: whole
                        .iter()
                        .filter(|above| above.profit_rank < r.profit_rank)
                        .map(|above| i128::from(above.figures.gross_profit_minor().max(0)))
                        .sum(),
                })
                .collect();
            assert_eq!(ranked_at(positions, positive), whole);
        }
    }

    #[test]
    fn a_quarterly_series_compares_with_the_quarter_before_and_the_year_before() {
        let month = |y: i32, m: u32| NaiveDate::from_ymd_opt(y, m, 1).unwrap();
        let sold = |revenue_minor: i64| Figures {
            revenue_minor,
            orders: 1,
            ..Figures::default()
        };
        let months = [
            (month(2025, 2), sold(1_000)),
            (month(2025, 12), sold(2_000)),
            (month(2026, 1), sold(3_000)),
            (month(2026, 3), sold(1_000)),
        ];
        let series = profit_series(
            &months,
            month(2026, 2),
            month(2026, 4),
            Granularity::Quarter,
        )
        .unwrap();
        let periods: Vec<&str> = series.iter().map(|p| p.period.as_str()).collect();
        assert_eq!(
            periods,
            ["2026-Q1", "2026-Q2"],
            "from is widened to its quarter's start"
        );
        assert_eq!(series[0].now.revenue_minor, 4_000);
        assert_eq!(series[0].previous.revenue_minor, 2_000);
        assert_eq!(series[0].last_year.revenue_minor, 1_000);
        assert_eq!(series[0].revenue_change_vs_previous_bp(), Some(10_000));
        assert_eq!(series[1].now, Figures::default());
    }

    #[test]
    fn tier_counts_put_the_unranked_in_c() {
        let assigned = [
            ("a".to_owned(), Tier::A),
            ("b".to_owned(), Tier::B),
            ("c".to_owned(), Tier::C),
        ];
        assert_eq!(
            TierCounts::of(&assigned, 5),
            TierCounts { a: 1, b: 1, c: 3 }
        );
    }
}
