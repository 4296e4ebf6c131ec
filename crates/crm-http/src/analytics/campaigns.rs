//! `GET /v1/campaigns/{id}/report`: whether a campaign made or lost money.

use actix_web::{get, web};
use crm_domain::access::permissions::{Access, Resource};
use crm_store::analytics::campaigns as store;
use serde::Serialize;
use utoipa::ToSchema;

use crate::marketing::campaigns::visible_to;
use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::state::AppState;

/// A campaign's figures in the base currency, exact to the cent (half away from zero).
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignReport {
    pub campaign_id: String,
    /// The base currency of every amount.
    pub currency: String,
    pub members: i64,
    /// Members who responded or converted.
    pub responders: i64,
    /// Distinct buyers among the attributed orders.
    pub conversions: i64,
    /// Orders naming the campaign, not cancelled, placed from `starts_on` to `ends_on` plus
    /// the attribution window.
    pub attributed_orders: i64,
    /// Orders naming the campaign placed outside that span: counted here only.
    pub outside_window_orders: i64,
    /// Net sales of the attributed orders, after discounts and before tax.
    pub revenue_minor: i64,
    pub cost_of_goods_minor: i64,
    /// Refunds and credit notes against those orders, net of tax.
    pub returns_and_credits_minor: i64,
    pub concessions_minor: i64,
    /// Revenue − cost of goods − returns and credits − concessions.
    pub gross_profit_minor: i64,
    /// The campaign's costs, each converted at its month's rate.
    pub campaign_cost_minor: i64,
    /// Gross profit − campaign cost.
    pub net_profit_minor: i64,
    /// Campaign cost over conversions; null without conversions.
    pub cost_per_conversion_minor: Option<i64>,
    /// Net profit over campaign cost, in basis points; null without cost.
    pub roi_bp: Option<i64>,
    /// (Revenue − returns and credits − concessions − campaign cost) over campaign cost, in
    /// basis points; null without cost.
    pub revenue_roi_bp: Option<i64>,
}

impl From<store::CampaignReport> for CampaignReport {
    fn from(r: store::CampaignReport) -> Self {
        CampaignReport {
            campaign_id: r.campaign_id,
            currency: r.currency.to_string(),
            members: r.members,
            responders: r.responders,
            conversions: r.money.conversions,
            attributed_orders: r.attributed_orders,
            outside_window_orders: r.outside_window_orders,
            revenue_minor: r.money.revenue_minor,
            cost_of_goods_minor: r.money.cost_of_goods_minor,
            returns_and_credits_minor: r.money.returns_and_credits_minor,
            concessions_minor: r.money.concessions_minor,
            gross_profit_minor: r.figures.gross_profit_minor,
            campaign_cost_minor: r.money.campaign_cost_minor,
            net_profit_minor: r.figures.net_profit_minor,
            cost_per_conversion_minor: r.figures.cost_per_conversion_minor,
            roi_bp: r.figures.roi_bp,
            revenue_roi_bp: r.figures.revenue_roi_bp,
        }
    }
}

#[utoipa::path(tag = "campaign-costs", operation_id = "getCampaignReport", summary = "Whether a campaign made or lost money",
    description = "The attributed orders under the customer-profit rule (refunds, credit notes and concessions lower them), less the campaign's costs, in the base currency: each month's amounts convert at that month's rate, as in the profit series (a missing rate is a `422`). Not for support staff (`403`).",
    params(("id" = String, Path, description = "Campaign id")),
    responses((status = 200, description = "The report", body = CampaignReport)))]
#[get("/campaigns/{id}/report")]
pub async fn campaign_report(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<web::Json<CampaignReport>, ApiError> {
    principal.authorize(Resource::CampaignCosts, Access::Read)?;
    let (visible, base) = (visible_to(&principal), state.settings.base_currency);
    let report = state
        .db
        .read(move |conn| store::report(conn, &id, &visible, base))
        .await?;
    Ok(web::Json(report.into()))
}

/// The routes under `/campaigns`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(campaign_report);
}
