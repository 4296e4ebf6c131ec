//! Demo data: a realistic, reproducible sales history written straight into the tables in bulk,
//! for trying the API and for benchmarks at scale.
//!
//! Two years of orders end at [`DemoSpec::until`]: a catalogue with margins from thin to fat,
//! customers whose purchases follow a heavy tail (a few large accounts, some of them high-volume
//! and low-margin, and a long tail of small ones), one to three contacts each, acquisition and
//! churn, seasonality (a December peak, an August dip), USD and GBP customers beside the EUR base
//! with a rate for every month, salespeople, cancellations and resolved returns.
//!
//! The same seed and the same `until` give the same records; only the ids (time-ordered UUIDs)
//! differ. Every random draw comes from ChaCha8, whose output is fixed across versions of the
//! crate, one stream per kind of record, so that `--orders` does not change the customers.
//!
//! Rows are the ones the application writes, with its amounts: line and document totals from
//! `crm_domain::sales::totals`, cost from [`documents::cost_of`], version 1. Orders are written in
//! transactions of a few thousand, as multi-row inserts, and never all held in memory. The
//! analytics rollups are not maintained row by row here: the caller rebuilds them afterwards
//! (`crm demo-data` does), which is what makes a bulk load fast.

use chrono::{Datelike, Duration, Months, NaiveDate, NaiveDateTime};
use crm_domain::access::roles::Role;
use crm_domain::billing::returns::{
    Disposition, ReasonCode, Resolution, ReturnStatus, RootCauseCategory,
};
use crm_domain::parties::contacts::LifecycleStage;
use crm_domain::platform::money::Quantity;
use crm_domain::sales::orders::{LineKind, OrderStatus};
use crm_domain::sales::totals::{compute, LineInput};
use crm_domain::Violation;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crm_store::billing::history::HistoryBatch;
use crm_store::billing::returns::{ReturnLineRow, ReturnRow};
use crm_store::parties::companies::CompanyFields;
use crm_store::parties::contacts::{self, ContactFields};
use crm_store::platform::address::Address;
use crm_store::platform::db::{write_transaction, DbConnection, BATCH_ROWS};
use crm_store::platform::exchange_rates;
use crm_store::sales::documents::{self, Line};
use crm_store::sales::orders::{OrderLineRow, OrderRow};
use crm_store::sales::products;
use crm_store::{new_id, parties::companies, StoreError};

/// The channel of every demo order, so that demo data can be told apart from real orders.
pub const CHANNEL: &str = "demo";

/// Months of history.
const MONTHS: u32 = 24;
const PRODUCTS: usize = 200;
const SALESPEOPLE: usize = 8;
/// Orders per transaction (about five lines each): large enough that commits cost little,
/// small enough to hold in memory.
const ORDERS_PER_TRANSACTION: usize = 2_000;
/// Share of orders cancelled, and of fulfilled orders with a return.
const RETURN_RATE: f64 = 0.02;
const CANCEL_RATE: f64 = 0.04;
/// EUR is the base currency; customers abroad are invoiced in theirs.
const CURRENCIES: [&str; 3] = ["EUR", "USD", "GBP"];

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoSpec {
    pub companies: usize,
    pub orders: usize,
    pub seed: u64,
    /// The end of the history: orders fall in the 24 calendar months up to this instant.
    pub until: NaiveDateTime,
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoCounts {
    pub exchange_rates: usize,
    pub products: usize,
    pub salespeople: usize,
    pub companies: usize,
    pub contacts: usize,
    pub orders: usize,
    pub cancelled_orders: usize,
    pub order_lines: usize,
    pub returns: usize,
    pub resolved_returns: usize,
    pub return_lines: usize,
}

/// Independent random streams, one per kind of record.
#[derive(Clone, Copy)]
enum Stream {
    Rates = 1,
    Products = 2,
    Companies = 3,
    Orders = 4,
    Contacts = 5,
}

fn rng(seed: u64, stream: Stream) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream as u64);
    rng
}

/// A standard normal draw (Box-Muller), so that no distribution needs fallible parameters.
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = 1.0 - rng.gen::<f64>();
    let u2 = rng.gen::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A Pareto draw with minimum 1: the share of customers above `x` falls as `x^-shape`.
fn pareto(rng: &mut ChaCha8Rng, shape: f64) -> f64 {
    (1.0 - rng.gen::<f64>()).powf(-1.0 / shape)
}

/// Picks indices in proportion to fixed positive weights, by binary search over running sums.
struct Weighted {
    cumulative: Vec<f64>,
}

impl Weighted {
    fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let mut total = 0.0;
        let cumulative = weights
            .into_iter()
            .map(|w| {
                total += w;
                total
            })
            .collect();
        Weighted { cumulative }
    }

    fn pick(&self, rng: &mut ChaCha8Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = rng.gen::<f64>() * total;
        self.cumulative
            .partition_point(|&c| c <= x)
            .min(self.cumulative.len().saturating_sub(1))
    }
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

fn minor(amount: f64) -> i64 {
    // Demo amounts are far inside i64; `as` saturates rather than wraps in any case.
    amount.round() as i64
}

/// One calendar month of the history.
struct Month {
    first_day: NaiveDate,
    /// Days with orders: all of them, except in the month of `until`.
    days: u32,
    /// Units of the base currency per unit of each currency (EUR, USD, GBP).
    rates: [f64; 3],
}

/// The months ending with the month of `until`, oldest first.
fn history_months(until: NaiveDateTime, seed: u64) -> Vec<Month> {
    let last = until.date().with_day(1).unwrap_or(until.date());
    let first = last - Months::new(MONTHS - 1);
    let mut rng = rng(seed, Stream::Rates);
    let (mut usd, mut gbp) = (0.92, 1.17);
    (0..MONTHS)
        .map(|m| {
            let first_day = first + Months::new(m);
            let next = first_day + Months::new(1);
            let days = if next > until.date() {
                until.date().day()
            } else {
                u32::try_from((next - first_day).num_days()).unwrap_or(30)
            };
            usd *= (0.015 * normal(&mut rng)).exp();
            gbp *= (0.012 * normal(&mut rng)).exp();
            Month {
                first_day,
                days,
                rates: [1.0, usd, gbp],
            }
        })
        .collect()
}

/// Demand by calendar month, January first: a December peak and an August dip.
const SEASON: [f64; 12] = [
    0.85, 0.88, 1.0, 0.98, 1.02, 0.97, 0.85, 0.6, 1.0, 1.05, 1.25, 1.55,
];

/// How many of `total` orders fall in each month: seasonality, 12% growth a year, and the part
/// of the last month that has happened; rounded by largest remainder so they add up to `total`.
fn orders_per_month(months: &[Month], total: usize) -> Vec<usize> {
    let weights: Vec<f64> = months
        .iter()
        .enumerate()
        .map(|(m, month)| {
            let days_in_month = ((month.first_day + Months::new(1)) - month.first_day).num_days();
            SEASON[month.first_day.month0() as usize]
                * (1.0 + 0.12 * m as f64 / 12.0)
                * f64::from(month.days)
                / days_in_month as f64
        })
        .collect();
    let sum: f64 = weights.iter().sum();
    let exact: Vec<f64> = weights.iter().map(|w| w / sum * total as f64).collect();
    let mut counts: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    let mut by_remainder: Vec<usize> = (0..months.len()).collect();
    by_remainder.sort_by(|&a, &b| {
        (exact[b] - exact[b].floor())
            .total_cmp(&(exact[a] - exact[a].floor()))
            .then(a.cmp(&b))
    });
    let short = total.saturating_sub(counts.iter().sum());
    for &m in by_remainder.iter().cycle().take(short) {
        counts[m] += 1;
    }
    counts
}

struct Product {
    id: String,
    sku: String,
    name: String,
    price_minor: i64,
    cost_minor: i64,
    tax_rate_bp: i64,
    /// Sold by weight or length, in fractional quantities.
    by_measure: bool,
}

const ADJECTIVES: [&str; 20] = [
    "Steel",
    "Oak",
    "Compact",
    "Industrial",
    "Premium",
    "Basic",
    "Heavy-duty",
    "Eco",
    "Classic",
    "Smart",
    "Modular",
    "Portable",
    "Galvanised",
    "Ceramic",
    "Wireless",
    "Thermal",
    "Flexible",
    "Stainless",
    "Recycled",
    "Professional",
];
const NOUNS: [&str; 12] = [
    "Bracket",
    "Shelf",
    "Cable Reel",
    "Pallet Wrap",
    "Toolbox",
    "Lamp",
    "Valve",
    "Hinge",
    "Workbench",
    "Fastener Kit",
    "Sensor",
    "Hose",
];

/// The catalogue, priced in EUR: prices from a couple of euros to thousands, costs from 10% to
/// 95% of the price.
fn create_catalogue(conn: &mut DbConnection, seed: u64) -> Result<Vec<Product>, StoreError> {
    let mut rng = rng(seed, Stream::Products);
    let mut out = Vec::with_capacity(PRODUCTS);
    for i in 0..PRODUCTS {
        let name = format!(
            "{} {}",
            ADJECTIVES[i % ADJECTIVES.len()],
            NOUNS[(i / ADJECTIVES.len()) % NOUNS.len()]
        );
        let euros = (35.0 * (1.1 * normal(&mut rng)).exp()).clamp(2.0, 3_000.0);
        let price_minor = minor(euros) * 100 - 1;
        let cost_minor = minor(price_minor as f64 * rng.gen_range(0.10..0.95));
        let tax_rate_bp = *pick(
            &mut rng,
            &[2_100, 2_100, 2_100, 2_100, 2_100, 2_100, 1_000, 400],
        );
        let by_measure = rng.gen_bool(0.1);
        let sku = format!("DEMO{seed}-{:03}", i + 1);
        let product = products::create(
            conn,
            products::ProductFields {
                sku: sku.clone(),
                name: name.clone(),
                description: Some(format!("Demo product {}", i + 1)),
                currency: "EUR".into(),
                unit_price_minor: price_minor,
                unit_cost_minor: Some(cost_minor),
                tax_rate_bp,
                active: true,
            },
        )?;
        out.push(Product {
            id: product.id,
            sku,
            name,
            price_minor,
            cost_minor,
            tax_rate_bp,
            by_measure,
        });
    }
    Ok(out)
}

struct Customer {
    id: String,
    /// The buyer, who places the orders.
    contact: String,
    /// Relative order frequency: Pareto-distributed, so a fifth of the customers place most
    /// of the orders.
    weight: f64,
    currency: usize,
    discount_bp: i64,
    /// Multiplies line quantities.
    basket: f64,
    /// Buys a lot, mostly low-margin products, at a volume discount: high volume, low margin.
    volume_buyer: bool,
    owner: Option<usize>,
    first_month: usize,
    last_month: usize,
}

const SURNAMES: [&str; 40] = [
    "García", "Martín", "Ruiz", "López", "Sánchez", "Navarro", "Moreno", "Romero", "Alonso", "Gil",
    "Dubois", "Lefèvre", "Moreau", "Laurent", "Müller", "Schmidt", "Fischer", "Weber", "Rossi",
    "Bianchi", "Ferrari", "Costa", "Silva", "Santos", "Pereira", "Jansen", "de Vries", "Bakker",
    "Smith", "Johnson", "Brown", "Taylor", "Walker", "Wright", "Evans", "Hughes", "Miller",
    "Davis", "Clark", "Lewis",
];
const SECTORS: [(&str, &str); 16] = [
    ("Logistics", "logistics"),
    ("Construction", "construction"),
    ("Hardware", "retail"),
    ("Engineering", "manufacturing"),
    ("Foods", "food"),
    ("Hospitality", "hospitality"),
    ("Motors", "automotive"),
    ("Installations", "construction"),
    ("Supplies", "wholesale"),
    ("Packaging", "manufacturing"),
    ("Farms", "agriculture"),
    ("Clinics", "healthcare"),
    ("Electrics", "construction"),
    ("Retail", "retail"),
    ("Marine", "logistics"),
    ("Tech", "technology"),
];
const COUNTRIES_EUR: [(&str, &str); 6] = [
    ("ES", "SL"),
    ("FR", "SARL"),
    ("DE", "GmbH"),
    ("IT", "Srl"),
    ("PT", "Lda"),
    ("NL", "BV"),
];

/// A name unique among the demo companies of one seed.
fn company_name(i: usize, suffix: &str) -> String {
    let combos = SURNAMES.len() * SECTORS.len();
    let base = format!(
        "{} {}",
        SURNAMES[i % SURNAMES.len()],
        SECTORS[(i / SURNAMES.len()) % SECTORS.len()].0
    );
    match i / combos {
        0 => format!("{base} {suffix}"),
        n => format!("{base} {} {suffix}", n + 1),
    }
}

/// Customers and their people, with the months they buy in: half were customers before the
/// history starts, the rest arrive over it, and some leave.
fn create_customers(
    conn: &mut DbConnection,
    spec: &DemoSpec,
    months: &[Month],
    salespeople: &[String],
) -> Result<(Vec<Customer>, usize), StoreError> {
    let mut rng = rng(spec.seed, Stream::Companies);
    let last = months.len() - 1;
    let mut out = Vec::with_capacity(spec.companies);
    let mut pending: Vec<(CompanyFields, NaiveDateTime)> = Vec::new();
    for i in 0..spec.companies {
        // One customer in 300, and always one in a small set.
        let volume_buyer = i % 300 == 7;
        let mut weight = pareto(&mut rng, 1.16).min(2_000.0);
        let discount_bp = if volume_buyer {
            weight = (weight * 25.0).min(2_000.0);
            rng.gen_range(10..=20) * 100
        } else {
            *pick(&mut rng, &[0, 0, 0, 0, 0, 0, 300, 500, 800, 1_000, 1_500])
        };
        let basket = (0.5 * normal(&mut rng)).exp() * (1.0 + 0.3 * weight.ln());
        let currency = match rng.gen_range(0..100) {
            0..=79 => 0,
            80..=91 => 1,
            _ => 2,
        };
        let (country, suffix) = match currency {
            0 => *pick(&mut rng, &COUNTRIES_EUR),
            1 => ("US", "Inc."),
            _ => ("GB", "Ltd"),
        };
        let first_month = if rng.gen_bool(0.5) {
            0
        } else {
            rng.gen_range(0..=last)
        };
        let last_month = if rng.gen_bool(0.15) {
            rng.gen_range(first_month..=last)
        } else {
            last
        };
        let owner = (volume_buyer || weight > 20.0 || rng.gen_bool(0.6))
            .then(|| rng.gen_range(0..salespeople.len()));
        let sector = SECTORS[(i / SURNAMES.len()) % SECTORS.len()];
        let created_at = months[first_month]
            .first_day
            .and_hms_opt(9, 0, 0)
            .unwrap_or_default()
            - Duration::days(rng.gen_range(1..=60))
            + Duration::minutes(rng.gen_range(0..600));
        pending.push((
            CompanyFields {
                name: company_name(i, suffix),
                legal_name: None,
                tax_id: None,
                billing_address: Address {
                    country: Some(country.to_owned()),
                    ..Address::default()
                },
                email: None,
                phone: None,
                website: None,
                industry: Some(sector.1.to_owned()),
                owner_id: owner.map(|o| salespeople[o].clone()),
                tags: vec!["demo".to_owned()],
                preferences: json!({}),
                custom_fields: serde_json::Map::new(),
                custom_written: None,
            },
            created_at,
        ));
        out.push(Customer {
            id: String::new(),
            contact: String::new(),
            weight,
            currency,
            discount_bp,
            basket,
            volume_buyer,
            owner,
            first_month,
            last_month,
        });
    }
    let mut ids = Vec::with_capacity(out.len());
    for batch in pending.chunks(BATCH_ROWS) {
        ids.extend(write_transaction(conn, |c| {
            companies::create_many(c, batch)
        })?);
    }
    for (customer, id) in out.iter_mut().zip(ids) {
        customer.id = id;
    }
    let created: Vec<NaiveDateTime> = pending.iter().map(|(_, at)| *at).collect();
    let contacts = create_contacts(conn, spec.seed, &mut out, &created, salespeople, last)?;
    Ok((out, contacts))
}

const FIRST_NAMES: [&str; 20] = [
    "Ana", "Luis", "Marta", "Jorge", "Claire", "Louis", "Anna", "Felix", "Giulia", "Marco",
    "Joana", "Rui", "Sanne", "Daan", "Emma", "James", "Olivia", "Jack", "Sophie", "Lucas",
];
const LAST_NAMES: [&str; 20] = [
    "Garcia", "Ruiz", "Navarro", "Moreno", "Martin", "Bernard", "Petit", "Schulz", "Wagner",
    "Becker", "Russo", "Greco", "Ferreira", "Oliveira", "Visser", "Smit", "Jones", "Wilson",
    "Roberts", "Khan",
];
const TITLES: [&str; 3] = [
    "Purchasing manager",
    "Accounts payable",
    "Operations manager",
];

/// One to three people at each customer, the first of them the buyer who places the orders.
/// Customers who stopped buying before the last month are former customers.
fn create_contacts(
    conn: &mut DbConnection,
    seed: u64,
    customers: &mut [Customer],
    created: &[NaiveDateTime],
    salespeople: &[String],
    last_month: usize,
) -> Result<usize, StoreError> {
    let mut rng = rng(seed, Stream::Contacts);
    let mut pending: Vec<(ContactFields, NaiveDateTime)> = Vec::new();
    let mut buyers = Vec::with_capacity(customers.len());
    for (i, (customer, at)) in customers.iter().zip(created).enumerate() {
        buyers.push(pending.len());
        let first = rng.gen_range(0..FIRST_NAMES.len());
        for j in 0..rng.gen_range(1..=3) {
            // Different first names, so that the addresses differ within the company.
            let first_name = FIRST_NAMES[(first + j) % FIRST_NAMES.len()];
            let last_name = *pick(&mut rng, &LAST_NAMES);
            pending.push((
                ContactFields {
                    company_id: Some(customer.id.clone()),
                    first_name: Some(first_name.to_owned()),
                    last_name: last_name.to_owned(),
                    email: Some(format!(
                        "{}.{}@c{}.demo{seed}.example",
                        first_name.to_lowercase(),
                        last_name.to_lowercase(),
                        i + 1
                    )),
                    phone: None,
                    title: Some(TITLES[j].to_owned()),
                    lifecycle_stage: if customer.last_month < last_month {
                        LifecycleStage::Former
                    } else {
                        LifecycleStage::Customer
                    },
                    owner_id: customer.owner.map(|o| salespeople[o].clone()),
                    tags: vec!["demo".to_owned()],
                    preferences: json!({}),
                    custom_fields: serde_json::Map::new(),
                    custom_written: None,
                    marketing_consent: rng.gen_bool(0.4),
                    birthday: None,
                    locale: Some("es-ES".to_owned()),
                },
                *at,
            ));
        }
    }
    let mut ids = Vec::with_capacity(pending.len());
    for batch in pending.chunks(BATCH_ROWS) {
        ids.extend(write_transaction(conn, |c| {
            contacts::create_many(c, batch)
        })?);
    }
    for (customer, buyer) in customers.iter_mut().zip(buyers) {
        customer.contact = ids.get(buyer).cloned().unwrap_or_default();
    }
    Ok(ids.len())
}

/// Salespeople, who own accounts and are credited with their orders. Their password hash is
/// not a valid hash, so nobody logs in as them until an admin sets a password.
fn create_salespeople(conn: &mut DbConnection, seed: u64) -> Result<Vec<String>, StoreError> {
    (1..=SALESPEOPLE)
        .map(|i| {
            crm_store::access::users::create(
                conn,
                crm_store::access::users::UserFields {
                    email: format!("sales{i}.demo{seed}@example.com"),
                    password_hash: "!".into(),
                    role: Role::Sales,
                    company_id: None,
                    active: true,
                    manager_id: None,
                },
            )
            .map(|u| u.id)
        })
        .collect()
}

/// A rate for each currency and month, dated the first of the month, unless one is there.
fn store_rates(conn: &mut DbConnection, months: &[Month]) -> Result<usize, StoreError> {
    let mut written = 0;
    for month in months {
        for (currency, rate) in CURRENCIES.iter().zip(month.rates).skip(1) {
            if exchange_rates::put_if_absent(
                conn,
                currency,
                month.first_day,
                &format!("{rate:.4}"),
            )? {
                written += 1;
            }
        }
    }
    Ok(written)
}

/// Lines per order, 1 to 9, about five on average.
const LINE_COUNT_WEIGHTS: [f64; 9] = [6.0, 9.0, 12.0, 15.0, 16.0, 14.0, 11.0, 9.0, 8.0];

const REASONS: [(ReasonCode, RootCauseCategory, &str, &str); 7] = [
    (
        ReasonCode::Damaged,
        RootCauseCategory::Packaging,
        "Crushed in transit",
        "Double-wall boxes",
    ),
    (
        ReasonCode::Defective,
        RootCauseCategory::Manufacturing,
        "Failed within a week",
        "HistoryBatch sent back to the supplier for testing",
    ),
    (
        ReasonCode::WrongItem,
        RootCauseCategory::Picking,
        "Neighbouring bin picked",
        "Scan-to-pick at the packing station",
    ),
    (
        ReasonCode::NotAsDescribed,
        RootCauseCategory::ProductInformation,
        "Dimensions missing on the product page",
        "Product sheet completed",
    ),
    (
        ReasonCode::NoLongerNeeded,
        RootCauseCategory::CustomerExpectation,
        "Project cancelled",
        "None needed",
    ),
    (
        ReasonCode::LateDelivery,
        RootCauseCategory::Shipping,
        "Carrier missed the slot",
        "Second carrier on that route",
    ),
    (
        ReasonCode::Other,
        RootCauseCategory::Other,
        "Customer changed supplier",
        "Account review",
    ),
];

/// Generates the orders, their lines and returns, one random stream for all.
struct OrderMaker<'a> {
    spec: &'a DemoSpec,
    rng: ChaCha8Rng,
    products: &'a [Product],
    popularity: Weighted,
    /// Products whose cost is at least 75% of the price.
    low_margin: Vec<usize>,
    line_counts: Weighted,
    salespeople: &'a [String],
    counts: DemoCounts,
}

impl OrderMaker<'_> {
    fn ordered_at(&mut self, month: &Month) -> NaiveDateTime {
        let day = month.first_day + Duration::days(i64::from(self.rng.gen_range(0..month.days)));
        let at = day.and_hms_opt(0, 0, 0).unwrap_or_default()
            + Duration::seconds(self.rng.gen_range(7 * 3600..22 * 3600));
        if at < self.spec.until {
            return at;
        }
        // Later today than `until`: some time in the day before it instead.
        (self.spec.until - Duration::seconds(self.rng.gen_range(1..=86_400)))
            .max(month.first_day.and_hms_opt(0, 0, 0).unwrap_or_default())
    }

    fn lines(&mut self, customer: &Customer, month: usize, months: &[Month]) -> Vec<Line> {
        let count = self.line_counts.pick(&mut self.rng) + 1;
        let mut chosen: Vec<usize> = Vec::with_capacity(count);
        for _ in 0..count * 4 {
            if chosen.len() == count {
                break;
            }
            let p =
                if customer.volume_buyer && !self.low_margin.is_empty() && self.rng.gen_bool(0.6) {
                    *pick(&mut self.rng, &self.low_margin)
                } else {
                    self.popularity.pick(&mut self.rng)
                };
            if !chosen.contains(&p) {
                chosen.push(p);
            }
        }
        // Prices rise 3% a year: older orders were sold a little cheaper.
        let inflation = 1.0 - 0.03 * (months.len() - 1 - month) as f64 / 12.0;
        let rate = months[month].rates[customer.currency];
        chosen
            .into_iter()
            .map(|p| {
                let product = &self.products[p];
                let scale =
                    (5_000.0 / product.price_minor as f64).clamp(0.3, 30.0) * customer.basket;
                let spread = (0.7 * normal(&mut self.rng)).exp();
                let quantity_milli = if product.by_measure {
                    minor(1_500.0 * scale * spread).clamp(50, 5_000_000)
                } else {
                    minor(scale * spread).clamp(1, 20_000) * 1_000
                };
                let promotion = if self.rng.gen_bool(0.06) {
                    self.rng.gen_range(5..=15) * 100
                } else {
                    0
                };
                Line {
                    product_id: Some(product.id.clone()),
                    sku: Some(product.sku.clone()),
                    description: product.name.clone(),
                    quantity: Quantity::from_milli(quantity_milli),
                    unit_price_minor: minor(product.price_minor as f64 * inflation / rate).max(1),
                    unit_cost_minor: Some(minor(product.cost_minor as f64 * inflation / rate)),
                    discount_bp: (customer.discount_bp + promotion).min(9_000),
                    // Exports outside the EU are invoiced without VAT.
                    tax_rate_bp: if customer.currency == 0 {
                        product.tax_rate_bp
                    } else {
                        0
                    },
                    kind: LineKind::Product,
                    stated: None,
                    external_id: None,
                }
            })
            .collect()
    }

    /// Writes order number `n` (1-based) of `customer` in `month` into `batch`.
    fn order(
        &mut self,
        batch: &mut HistoryBatch,
        n: usize,
        customer: &Customer,
        month: usize,
        months: &[Month],
    ) -> Result<(), StoreError> {
        let ordered_at = self.ordered_at(&months[month]);
        let lines = self.lines(customer, month, months);
        let totals = documents::totals(&lines)?;
        let cost_minor = documents::cost_of(&lines)?;
        let status = if self.rng.gen_bool(CANCEL_RATE) {
            OrderStatus::Cancelled
        } else if self.spec.until - ordered_at > Duration::days(14) {
            OrderStatus::Fulfilled
        } else {
            *pick(
                &mut self.rng,
                &[
                    OrderStatus::Pending,
                    OrderStatus::Paid,
                    OrderStatus::Fulfilled,
                ],
            )
        };
        let salesperson = match customer.owner {
            Some(owner) => Some(self.salespeople[owner].clone()),
            None if self.rng.gen_bool(0.2) => Some(pick(&mut self.rng, self.salespeople).clone()),
            None => None,
        };
        let order = OrderRow {
            id: new_id(),
            channel: CHANNEL.to_owned(),
            external_id: format!("{}-{n}", self.spec.seed),
            contact_id: Some(customer.contact.clone()),
            company_id: Some(customer.id.clone()),
            quote_id: None,
            currency: CURRENCIES[customer.currency].to_owned(),
            status: status.as_str().to_owned(),
            ordered_at,
            salesperson_id: salesperson,
            campaign_id: None,
            // As a quote's order does: a stable digest of where the order came from.
            payload_hash: format!("demo:{}:{n}", self.spec.seed),
            subtotal_minor: totals.subtotal_minor,
            discount_minor: totals.discount_minor,
            tax_minor: totals.tax_minor,
            total_minor: totals.total_minor,
            cost_minor,
            version: 1,
            created_at: ordered_at,
            updated_at: ordered_at,
            prices_include_tax: false,
            connection_id: None,
            shop_number: None,
            shop_updated_at: None,
            utm: None,
            custom_fields: String::new(),
        };
        let first_line = batch.lines.len();
        for (position, (line, amounts)) in lines.iter().zip(&totals.lines).enumerate() {
            batch
                .lines
                .push(OrderLineRow::new(&order.id, position, line, amounts));
        }
        self.counts.orders += 1;
        self.counts.order_lines += batch.lines.len() - first_line;
        if status == OrderStatus::Cancelled {
            self.counts.cancelled_orders += 1;
        } else if status == OrderStatus::Fulfilled && self.rng.gen_bool(RETURN_RATE) {
            self.give_back(batch, &order, first_line)?;
        }
        batch.orders.push(order);
        Ok(())
    }

    /// A return of one or two lines of `order` (whose lines start at `first_line` in the
    /// batch), opened within the return window and resolved a few days later; still open when
    /// that is after `until`, and none when even the opening would be.
    fn give_back(
        &mut self,
        batch: &mut HistoryBatch,
        order: &OrderRow,
        first_line: usize,
    ) -> Result<(), StoreError> {
        let opened = order.ordered_at
            + Duration::days(self.rng.gen_range(2..=25))
            + Duration::minutes(self.rng.gen_range(0..600));
        if opened >= self.spec.until {
            return Ok(());
        }
        let resolved_at = Some(opened + Duration::days(self.rng.gen_range(2..=14)))
            .filter(|at| *at < self.spec.until);
        let sold = batch.lines.len() - first_line;
        let mut picked = vec![first_line + self.rng.gen_range(0..sold)];
        if sold > 1 && self.rng.gen_bool(0.2) {
            let other = first_line + self.rng.gen_range(0..sold);
            if other != picked[0] {
                picked.push(other);
            }
        }
        let (reason, cause, notes, action) = *pick(&mut self.rng, &REASONS);
        let resolution = resolved_at.map(|_| match self.rng.gen_range(0..100) {
            0..=54 => Resolution::Refund,
            55..=64 => Resolution::StoreCredit,
            65..=89 => Resolution::RetainedWithDiscount,
            _ => Resolution::Replacement,
        });
        let kept = resolution == Some(Resolution::RetainedWithDiscount);
        let id = new_id();
        let mut lines = Vec::with_capacity(picked.len());
        for (position, &l) in picked.iter().enumerate() {
            let line = &batch.lines[l];
            let quantity_milli = if line.quantity_milli >= 2_000 && self.rng.gen_bool(0.6) {
                1_000 * self.rng.gen_range(1..=line.quantity_milli / 1_000)
            } else {
                line.quantity_milli
            };
            let received = resolution.is_some() && !kept;
            lines.push(ReturnLineRow {
                id: new_id(),
                return_id: id.clone(),
                position: i64::try_from(position).unwrap_or(i64::MAX),
                order_line_id: line.id.clone(),
                product_id: line.product_id.clone(),
                description: line.description.clone(),
                quantity_milli,
                reason_code: reason.as_str().to_owned(),
                received_quantity_milli: received.then_some(quantity_milli),
                disposition: received.then(|| {
                    pick(
                        &mut self.rng,
                        &[
                            Disposition::Restock,
                            Disposition::Restock,
                            Disposition::Scrap,
                        ],
                    )
                    .as_str()
                    .to_owned()
                }),
                unit_price_minor: line.unit_price_minor,
                discount_bp: line.discount_bp,
                tax_rate_bp: line.tax_rate_bp,
                stated_gross_minor: None,
                stated_discount_minor: None,
                stated_tax_minor: None,
            });
        }
        // The returned value, tax included, as `returns::resolve` computes it.
        let inputs: Vec<LineInput> = lines
            .iter()
            .map(|l| LineInput {
                quantity: Quantity::from_milli(
                    l.received_quantity_milli.unwrap_or(l.quantity_milli),
                ),
                unit_price_minor: l.unit_price_minor,
                discount_bp: l.discount_bp,
                tax_rate_bp: l.tax_rate_bp,
                stated: None,
            })
            .collect();
        let value = compute(&inputs)?.total_minor;
        let credits = resolution.is_some_and(Resolution::credits);
        let fee = if credits && self.rng.gen_bool(0.25) {
            value / 10
        } else {
            0
        };
        let concession = if kept {
            minor(value as f64 * self.rng.gen_range(0.1..0.5))
        } else {
            0
        };
        let status = if resolution.is_some() {
            ReturnStatus::Resolved
        } else {
            ReturnStatus::Approved
        };
        batch.returns.push(ReturnRow {
            id,
            number: String::new(),
            order_id: order.id.clone(),
            company_id: order.company_id.clone(),
            contact_id: order.contact_id.clone(),
            currency: order.currency.clone(),
            status: status.as_str().to_owned(),
            customer_comment: None,
            reject_reason: None,
            root_cause_category: resolution.map(|_| cause.as_str().to_owned()),
            root_cause_notes: resolution.map(|_| notes.to_owned()),
            preventive_action: resolution.map(|_| action.to_owned()),
            resolution: resolution.map(|r| r.as_str().to_owned()),
            restocking_fee_minor: fee,
            concession_minor: concession,
            refund_minor: if credits { value - fee } else { 0 },
            saved_revenue_minor: if kept { value - concession } else { 0 },
            credit_note_id: None,
            resolved_at,
            window_override_by: None,
            window_override_at: None,
            opened_by: order.salesperson_id.clone(),
            version: 1,
            created_at: opened,
            updated_at: resolved_at.unwrap_or(opened),
        });
        self.counts.returns += 1;
        self.counts.resolved_returns += usize::from(resolution.is_some());
        self.counts.return_lines += lines.len();
        batch.return_lines.extend(lines);
        Ok(())
    }
}

/// Loads the demo data of `spec`; `progress` hears the running counts after each transaction.
/// Refuses a seed that is already loaded. The rollups are left for the caller to rebuild.
pub fn generate(
    conn: &mut DbConnection,
    spec: &DemoSpec,
    progress: &mut dyn FnMut(&DemoCounts),
) -> Result<DemoCounts, StoreError> {
    if spec.companies == 0 {
        return Err(Violation::new("companies", "must be at least 1").into());
    }
    let first_sku = format!("DEMO{}-001", spec.seed);
    if products::find_by_sku(conn, &first_sku)?.is_some() {
        return Err(StoreError::Conflict {
            message: format!(
                "demo data of seed {} is already loaded (product {first_sku} exists); \
                 use another seed or an empty database",
                spec.seed
            ),
            existing_id: None,
        });
    }
    let months = history_months(spec.until, spec.seed);
    let (rates_written, catalogue, sellers) = write_transaction(conn, |c| {
        Ok::<_, StoreError>((
            store_rates(c, &months)?,
            create_catalogue(c, spec.seed)?,
            create_salespeople(c, spec.seed)?,
        ))
    })?;
    let (customers, contacts) = create_customers(conn, spec, &months, &sellers)?;
    let low_margin = (0..catalogue.len())
        .filter(|&p| catalogue[p].cost_minor * 4 >= catalogue[p].price_minor * 3)
        .collect();
    let mut maker = OrderMaker {
        spec,
        rng: rng(spec.seed, Stream::Orders),
        popularity: Weighted::new(
            (0..catalogue.len()).map(|rank| 1.0 / (rank as f64 + 1.0).powf(0.9)),
        ),
        products: &catalogue,
        low_margin,
        line_counts: Weighted::new(LINE_COUNT_WEIGHTS),
        salespeople: &sellers,
        counts: DemoCounts {
            exchange_rates: rates_written,
            products: catalogue.len(),
            salespeople: sellers.len(),
            companies: customers.len(),
            contacts,
            ..DemoCounts::default()
        },
    };
    let mut batch = HistoryBatch::default();
    let mut n = 0;
    for (m, count) in orders_per_month(&months, spec.orders)
        .into_iter()
        .enumerate()
    {
        let mut buying: Vec<usize> = (0..customers.len())
            .filter(|&c| (customers[c].first_month..=customers[c].last_month).contains(&m))
            .collect();
        if buying.is_empty() {
            buying = (0..customers.len()).collect();
        }
        let who = Weighted::new(buying.iter().map(|&c| customers[c].weight));
        for _ in 0..count {
            n += 1;
            let customer = &customers[buying[who.pick(&mut maker.rng)]];
            maker.order(&mut batch, n, customer, m, &months)?;
            if batch.orders.len() == ORDERS_PER_TRANSACTION {
                batch.write(conn)?;
                progress(&maker.counts);
            }
        }
    }
    batch.write(conn)?;
    progress(&maker.counts);
    Ok(maker.counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn months_end_with_the_partial_month_of_until() {
        let months = history_months(at("2026-11-23 10:00:00"), 1);
        assert_eq!(months.len(), 24);
        assert_eq!(
            months[0].first_day,
            NaiveDate::from_ymd_opt(2024, 12, 1).unwrap()
        );
        assert_eq!(months[23].days, 23);
        assert_eq!(months[22].days, 31);
        assert!(months.iter().all(|m| m.rates[0] == 1.0 && m.rates[1] > 0.5));
    }

    #[test]
    fn orders_add_up_and_peak_in_december() {
        let months = history_months(at("2026-11-23 10:00:00"), 1);
        let counts = orders_per_month(&months, 100_003);
        assert_eq!(counts.iter().sum::<usize>(), 100_003);
        let december = counts[12];
        let august = counts[20];
        assert!(december > august * 2, "{december} vs {august}");
    }

    #[test]
    fn the_same_seed_draws_the_same_numbers() {
        let draw = |seed| {
            let mut r = rng(seed, Stream::Orders);
            (0..5).map(|_| pareto(&mut r, 1.16)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn company_names_do_not_repeat() {
        let names: std::collections::HashSet<String> =
            (0..5_000).map(|i| company_name(i, "SL")).collect();
        assert_eq!(names.len(), 5_000);
    }

    #[test]
    fn weighted_picks_follow_the_weights() {
        let w = Weighted::new([1.0, 0.0, 3.0]);
        let mut r = rng(1, Stream::Orders);
        let mut seen = [0; 3];
        for _ in 0..4_000 {
            seen[w.pick(&mut r)] += 1;
        }
        assert_eq!(seen[1], 0);
        assert!(seen[2] > seen[0] * 2);
    }
}
