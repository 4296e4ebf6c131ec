//! The maintained rollups always equal a recomputation from the raw records, whatever
//! sequence of writes came before.

use crm_domain::analytics::profit::{rank_customers, RankOrder};
use crm_domain::billing::returns::{ReasonCode, Resolution, ReturnAction, RootCauseCategory};
use crm_domain::platform::money::Currency;
use crm_domain::platform::money::Quantity;
use crm_domain::sales::orders::{OrderAction, OrderStatus};
use crm_store::analytics::years;
use crm_store::parties::customers::CustomerRef;
use crm_store::platform::db::write_transaction;
use crm_store::sales::documents::LineDraft;
use crm_store::sales::orders::OrderInput;
use crm_store::{DbConnection, StoreError};
use crm_tests::on_both_backends;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SEQUENCES: u64 = 200;

/// The products, salespeople and campaigns the random orders pick from.
struct Catalog {
    products: Vec<String>,
    salespeople: Vec<String>,
    campaigns: Vec<String>,
}

fn order_input(
    rng: &mut StdRng,
    catalog: &Catalog,
    company: Option<&str>,
    external_id: String,
    status: OrderStatus,
    campaign_id: Option<String>,
) -> OrderInput {
    let price = rng.gen_range(100..5_000);
    let mut lines = vec![LineDraft {
        product_id: Some(catalog.products[rng.gen_range(0..catalog.products.len())].clone()),
        sku: None,
        description: None,
        quantity: Quantity::from_milli(rng.gen_range(1..=5) * 1000),
        unit_price_minor: Some(price),
        unit_cost_minor: Some(rng.gen_range(0..price)),
        discount_bp: rng.gen_range(0..=2_000),
        tax_rate_bp: Some(2_100),
        ..LineDraft::new(Quantity::from_milli(1000))
    }];
    if rng.gen_bool(0.3) {
        lines.push(LineDraft {
            product_id: None,
            sku: None,
            description: Some("ad hoc".into()),
            quantity: Quantity::from_milli(rng.gen_range(1..=3_000)),
            unit_price_minor: Some(rng.gen_range(1..900)),
            unit_cost_minor: None,
            discount_bp: 0,
            tax_rate_bp: Some(1_000),
            ..LineDraft::new(Quantity::from_milli(1000))
        });
    }
    let email = match company {
        Some(company) => format!("{company}@example.com"),
        None => format!("solo-{external_id}@example.com"),
    };
    OrderInput {
        custom_written: None,
        channel: "prop".into(),
        external_id,
        ordered_at: chrono::NaiveDate::from_ymd_opt(
            2026,
            rng.gen_range(1..=6),
            rng.gen_range(1..=28),
        )
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap(),
        currency: if rng.gen_bool(0.8) {
            "EUR".into()
        } else {
            "USD".into()
        },
        status: Some(status),
        customer: Some(CustomerRef {
            email: Some(email),
            ..CustomerRef::default()
        }),
        company_id: company.map(str::to_owned),
        lines,
        salesperson_id: rng
            .gen_bool(0.7)
            .then(|| catalog.salespeople[rng.gen_range(0..catalog.salespeople.len())].clone()),
        campaign_id,
        utm: None,
        payload_hash: format!("{}", rng.gen::<u64>()),
        prices_include_tax: false,
        origin: Default::default(),
    }
}

/// One random write; refusals (illegal actions, over-returns) are part of the game.
fn random_write(
    conn: &mut DbConnection,
    rng: &mut StdRng,
    catalog: &Catalog,
    companies: &[String],
    orders: &mut Vec<String>,
    step: u64,
) -> Result<(), StoreError> {
    let company = &companies[rng.gen_range(0..companies.len())];
    // Picked by step, not by the generator, so that the sequences stay those of the seeds.
    let campaign = usize::try_from(step % 3)
        .ok()
        .and_then(|i| catalog.campaigns.get(i))
        .cloned();
    match rng.gen_range(0..9) {
        0 | 1 => {
            let status = [
                OrderStatus::Pending,
                OrderStatus::Paid,
                OrderStatus::Fulfilled,
                OrderStatus::Cancelled,
            ][rng.gen_range(0..4)];
            // Every fifth order is a shop's order from someone of no company.
            let company = (!step.is_multiple_of(5)).then_some(company.as_str());
            let input = order_input(rng, catalog, company, format!("o{step}"), status, campaign);
            let id = match crm_store::sales::orders::upsert(conn, input, None)? {
                crm_store::sales::orders::Upserted::Created(o)
                | crm_store::sales::orders::Upserted::Updated(o)
                | crm_store::sales::orders::Upserted::Unchanged(o) => o.id,
            };
            orders.push(id);
        }
        2 if !orders.is_empty() => {
            let order =
                crm_store::sales::orders::get(conn, &orders[rng.gen_range(0..orders.len())])?;
            let company = order.company_id.clone();
            let status = [
                OrderStatus::Paid,
                OrderStatus::Fulfilled,
                OrderStatus::Cancelled,
            ][rng.gen_range(0..3)];
            crm_store::sales::orders::upsert(
                conn,
                order_input(
                    rng,
                    catalog,
                    company.as_deref(),
                    order.external_id,
                    status,
                    campaign,
                ),
                None,
            )?;
        }
        3 if !orders.is_empty() => {
            crm_store::sales::orders::act(
                conn,
                &orders[rng.gen_range(0..orders.len())],
                None,
                OrderAction::Cancel,
            )?;
        }
        4 if !orders.is_empty() => {
            let order =
                crm_store::sales::orders::get(conn, &orders[rng.gen_range(0..orders.len())])?;
            let invoice = crm_store::billing::invoices::create_draft(
                conn,
                crm_store::billing::invoices::DraftInput {
                    company_id: order.company_id.clone().unwrap_or_default(),
                    currency: None,
                    series_id: None,
                    due_date: None,
                    notes: None,
                    order_ids: vec![order.id.clone()],
                    lines: vec![],
                    vat: Default::default(),
                },
            )?;
            let issued = crm_store::billing::invoices::issue(conn, &invoice.id, None)?;
            if rng.gen_bool(0.5) {
                let line = issued.lines[0].line.clone();
                let partial = crm_store::billing::invoices::CreditLineDraft {
                    invoice_line_id: issued.lines[0].id.clone().unwrap(),
                    quantity: Quantity::from_milli(line.quantity.milli().min(1000)),
                    unit_price: Some(((line.unit_price_minor / 2).max(1), issued.currency.clone())),
                };
                let note = crm_store::billing::invoices::create_credit_note(
                    conn,
                    &issued.id,
                    "property".into(),
                    Some(vec![partial]),
                )?;
                crm_store::billing::invoices::issue(conn, &note.id, None)?;
            }
        }
        5 | 6 if !orders.is_empty() => {
            let order =
                crm_store::sales::orders::get(conn, &orders[rng.gen_range(0..orders.len())])?;
            let ret = crm_store::billing::returns::open(
                conn,
                crm_store::billing::returns::ReturnRequest {
                    order_id: order.id.clone(),
                    lines: vec![crm_store::billing::returns::LineRequest {
                        order_line_id: order.line_ids[0].clone(),
                        quantity: Quantity::from_milli(1000),
                        reason: ReasonCode::Damaged,
                        stated: None,
                    }],
                    customer_comment: None,
                    window_override_by: Some("property".into()),
                    opened_by: None,
                    window_days: 30,
                    shop_refund: false,
                },
            )?;
            crm_store::billing::returns::act(conn, &ret.id, None, ReturnAction::Approve, None)?;
            crm_store::billing::returns::update(conn, &ret.id, None, |cause, _| {
                cause.category = Some(RootCauseCategory::Shipping);
                cause.notes = Some("n".into());
                cause.preventive_action = Some("p".into());
                Ok(())
            })?;
            let keep = rng.gen_bool(0.5);
            if !keep {
                let line = crm_store::billing::returns::get(conn, &ret.id)?.lines[0]
                    .id
                    .clone();
                crm_store::billing::returns::receive(
                    conn,
                    &ret.id,
                    None,
                    vec![crm_store::billing::returns::Received {
                        return_line_id: line,
                        quantity: Quantity::from_milli(1000),
                        disposition: crm_domain::billing::returns::Disposition::Restock,
                    }],
                )?;
            }
            crm_store::billing::returns::resolve(
                conn,
                &ret.id,
                None,
                crm_store::billing::returns::Resolve {
                    resolution: if keep {
                        Resolution::RetainedWithDiscount
                    } else {
                        Resolution::Refund
                    },
                    restocking_fee_minor: if keep { 0 } else { rng.gen_range(0..50) },
                    concession_minor: keep.then(|| rng.gen_range(0..100)),
                    shop_refund: false,
                },
            )?;
        }
        7 => {
            let day = chrono::NaiveDate::from_ymd_opt(2026, rng.gen_range(1..=6), 1).unwrap();
            let rate = format!("0.{}", rng.gen_range(80..=99));
            crm_store::analytics::years::put_rate(conn, "USD", day, &rate)?;
        }
        8 => {
            let day = chrono::NaiveDate::from_ymd_opt(2026, rng.gen_range(1..=6), 1).unwrap();
            crm_store::analytics::years::delete_rate(conn, "USD", day)?;
        }
        _ => {}
    }
    Ok(())
}

/// The ranking of 2026 read from the yearly rollup, page by page in both orders, equals the one
/// ranked in memory from the monthly rollups.
fn assert_ranking_equals_the_monthly_one(conn: &mut DbConnection, sequence: u64) {
    let eur: Currency = "EUR".parse().unwrap();
    let months = crm_store::analytics::profit::by_company(conn, "2026-01", "2026-12", eur).unwrap();
    for order in [RankOrder::Profit, RankOrder::Volume] {
        let whole = rank_customers(&months, order);
        for (offset, limit) in [(0, 200), (0, 1), (1, 2), (2, 5)] {
            let (page, total) = crm_store::analytics::profit::customer_ranking(
                conn,
                "2026-01",
                "2026-12",
                eur,
                order,
                (offset, limit),
            )
            .unwrap();
            let page: Vec<_> = page.into_iter().map(|(ranked, _, _)| ranked).collect();
            let expected: Vec<_> = whole.iter().skip(offset).take(limit).cloned().collect();
            assert_eq!(
                page, expected,
                "{order:?} page {offset}+{limit} after sequence {sequence}"
            );
            assert_eq!(total, whole.len());
        }
    }
}

on_both_backends! {
    async fn maintained_rollups_equal_a_rebuild_after_random_writes(app: TestApp) {
        let pool = app.pool.clone();
        actix_web::web::block(move || {
            let mut conn = pool.get().unwrap();
            let (catalog, companies) = write_transaction(&mut conn, |c| {
                crm_store::platform::settings::update(c, None, |f| {
                    f.legal_name = Some("Prop SL".into());
                    f.tax_id = Some("ESB00000000".into());
                    Ok(())
                })?;
                let products = (0..3).map(|i| crm_store::sales::products::create(c, crm_store::sales::products::ProductFields {
                    sku: format!("PROP-{i}"), name: format!("Prop {i}"), description: None, currency: "EUR".into(),
                    unit_price_minor: 1000, unit_cost_minor: Some(500), tax_rate_bp: 2100, active: true,
                }).map(|p| p.id)).collect::<Result<Vec<_>, StoreError>>()?;
                let salespeople = (0..2).map(|i| crm_store::access::users::create(c, crm_store::access::users::UserFields {
                    email: format!("seller{i}@example.com"), password_hash: "x".into(),
                    role: crm_domain::access::roles::Role::Sales, company_id: None, active: true, manager_id: None,
                }).map(|u| u.id)).collect::<Result<Vec<_>, StoreError>>()?;
                let companies = (0..3).map(|i| crm_store::parties::customers::company_by_name(c, &format!("Prop {i}")).map(|(id, _)| id)).collect::<Result<Vec<_>, StoreError>>()?;
                let campaigns = (0..2).map(|i| crm_store::marketing::campaigns::create(c, crm_store::marketing::campaigns::CampaignFields {
                    name: format!("Prop {i}"), code: format!("PROP-{i}"), channel: crm_domain::marketing::campaigns::CampaignChannel::Email,
                    consent_channel: None,
                    schedule: crm_domain::marketing::campaigns::Schedule { starts_on: chrono::NaiveDate::from_ymd_opt(2026, 2, 1).unwrap(), ends_on: chrono::NaiveDate::from_ymd_opt(2026, 3, 31).unwrap(), attribution_window_days: 30 },
                    budget: None, owner_id: None, target_segment_id: None,
                }).map(|campaign| campaign.id)).collect::<Result<Vec<_>, StoreError>>()?;
                Ok::<_, StoreError>((Catalog { products, salespeople, campaigns }, companies))
            })
            .unwrap();
            let mut orders = Vec::new();
            let mut step = 0;
            let eur: Currency = "EUR".parse().unwrap();
            let mut ranked_from_years = 0;
            for sequence in 0..SEQUENCES {
                let mut rng = StdRng::seed_from_u64(sequence);
                for _ in 0..rng.gen_range(1..8) {
                    step += 1;
                    let _ = write_transaction(&mut conn, |c| random_write(c, &mut rng, &catalog, &companies, &mut orders, step));
                }
                let stored = crm_store::analytics::rollups::stored(&mut conn).unwrap();
                let fresh = crm_store::analytics::rollups::from_scratch(&mut conn).unwrap();
                assert_eq!(stored, fresh, "after sequence {sequence}");
                assert_eq!(crm_store::analytics::rollups::from_scratch_sliced(&mut conn, 1).unwrap(), fresh, "one company a slice, after sequence {sequence}");
                assert_eq!(years::stored(&mut conn).unwrap(), years::from_months(&mut conn, years::Companies::All).unwrap(), "years after sequence {sequence}");
                if years::usable(&mut conn, 2026, eur).unwrap() {
                    ranked_from_years += 1;
                    assert_ranking_equals_the_monthly_one(&mut conn, sequence);
                }
            }
            assert!(ranked_from_years > 0, "the yearly ranking was compared");
            let kept = years::stored(&mut conn).unwrap();
            assert!(kept.values().any(Option::is_some) && kept.values().any(|f| f.is_some_and(|f| f.revenue_minor > 0)), "complete years happened");
            let all = crm_store::analytics::rollups::stored(&mut conn).unwrap();
            assert!(all.customers.values().any(|f| f.revenue_minor > 0), "orders happened");
            assert!(all.customers.values().any(|f| f.returns_minor > 0), "credit notes or refunds happened");
            assert!(all.customers.values().any(|f| f.concessions_minor > 0), "concessions happened");
            assert!(all.products.values().any(|f| f.returned_units_milli > 0), "returns happened");
            assert!(all.products.keys().any(|k| k.0.is_empty()) && all.products.keys().any(|k| !k.1.is_empty()), "ad-hoc lines and salespeople happened");
            assert!(all.campaigns.values().any(|f| f.revenue_minor > 0) && all.campaigns.values().any(|f| f.returns_minor > 0), "campaign orders and their returns or credits happened");
            assert!(all.campaigns.values().any(|f| f.concessions_minor > 0), "campaign concessions happened");
            let campaigns_only = crm_store::platform::db::write_transaction(&mut conn, crm_store::analytics::rollups::rebuild_campaigns);
            assert!(campaigns_only.unwrap() > 0);
            assert_eq!(crm_store::analytics::rollups::stored(&mut conn).unwrap(), all, "a rebuild of the campaigns alone equals the maintained rollups");
            let rebuilt = crm_store::platform::db::write_transaction(&mut conn, crm_store::analytics::rollups::rebuild);
            assert!(rebuilt.unwrap() > 0);
            assert_eq!(crm_store::analytics::rollups::stored(&mut conn).unwrap(), all, "a rebuild equals the maintained rollups");
            assert_eq!(years::stored(&mut conn).unwrap(), kept, "a rebuild folds the same years");
            let rebuilt = crm_store::platform::db::write_transaction(&mut conn, |c| crm_store::analytics::rollups::rebuild_sliced(c, 1));
            assert!(rebuilt.unwrap() > 0);
            assert_eq!(crm_store::analytics::rollups::stored(&mut conn).unwrap(), all, "a rebuild one company a slice equals the maintained rollups");
            assert_eq!(years::stored(&mut conn).unwrap(), kept, "a rebuild one company a slice folds the same years");
        })
        .await
        .unwrap();
    }
}
