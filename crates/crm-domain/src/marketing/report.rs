//! A campaign's profit and return on what it cost, exact to the cent.

use crate::platform::money::BP_SCALE;

/// What a campaign's attributed orders earned and what it cost, in minor units of the base
/// currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CampaignMoney {
    /// Net sales, after discounts and before tax.
    pub revenue_minor: i64,
    pub cost_of_goods_minor: i64,
    /// Refunds and credit notes, net of tax.
    pub returns_and_credits_minor: i64,
    /// Concessions given to customers who kept returned items.
    pub concessions_minor: i64,
    /// What was spent on the campaign.
    pub campaign_cost_minor: i64,
    /// Distinct buyers.
    pub conversions: i64,
}

/// The figures built on [`CampaignMoney`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CampaignReturn {
    /// Revenue − cost of goods − returns and credits − concessions: the customer-profit rule.
    pub gross_profit_minor: i64,
    /// Gross profit − campaign cost.
    pub net_profit_minor: i64,
    pub cost_per_conversion_minor: Option<i64>,
    /// Net profit over campaign cost, in basis points.
    pub roi_bp: Option<i64>,
    /// (Revenue − returns and credits − concessions − campaign cost) over campaign cost.
    pub revenue_roi_bp: Option<i64>,
}

/// `numerator / denominator` rounded half away from zero; none on a zero divisor or past the
/// range of i64.
fn divide(numerator: i128, denominator: i128) -> Option<i64> {
    if denominator == 0 {
        return None;
    }
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    let rounded = if remainder.abs() * 2 >= denominator.abs() {
        quotient
            + if (numerator < 0) == (denominator < 0) {
                1
            } else {
                -1
            }
    } else {
        quotient
    };
    i64::try_from(rounded).ok()
}

pub fn campaign_return(money: &CampaignMoney) -> CampaignReturn {
    let revenue = i128::from(money.revenue_minor);
    let taken_back =
        i128::from(money.returns_and_credits_minor) + i128::from(money.concessions_minor);
    let gross = revenue - i128::from(money.cost_of_goods_minor) - taken_back;
    let cost = i128::from(money.campaign_cost_minor);
    let net = gross - cost;
    let scale = i128::from(BP_SCALE);
    CampaignReturn {
        gross_profit_minor: i64::try_from(gross).unwrap_or(i64::MAX),
        net_profit_minor: i64::try_from(net).unwrap_or(i64::MAX),
        cost_per_conversion_minor: divide(cost, i128::from(money.conversions)),
        roi_bp: divide(net * scale, cost),
        revenue_roi_bp: divide((revenue - taken_back - cost) * scale, cost),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_round_half_away_from_zero_and_are_none_without_a_divisor() {
        assert_eq!(divide(5, 2), Some(3));
        assert_eq!(divide(-5, 2), Some(-3));
        assert_eq!(divide(5, -2), Some(-3));
        assert_eq!(divide(4, 3), Some(1));
        assert_eq!(divide(-4, 3), Some(-1));
        assert_eq!(divide(1, 0), None);
    }

    #[test]
    fn a_campaign_earns_its_gross_profit_less_what_it_cost() {
        let money = CampaignMoney {
            revenue_minor: 100_000,
            cost_of_goods_minor: 40_000,
            returns_and_credits_minor: 10_000,
            concessions_minor: 2_000,
            campaign_cost_minor: 30_000,
            conversions: 4,
        };
        let r = campaign_return(&money);
        assert_eq!(r.gross_profit_minor, 48_000);
        assert_eq!(r.net_profit_minor, 18_000);
        assert_eq!(r.cost_per_conversion_minor, Some(7_500));
        assert_eq!(r.roi_bp, Some(6_000), "18,000 / 30,000");
        assert_eq!(r.revenue_roi_bp, Some(19_333), "58,000 / 30,000 = 1.93333");
        let free = campaign_return(&CampaignMoney {
            campaign_cost_minor: 0,
            conversions: 0,
            ..money
        });
        assert_eq!(
            (
                free.roi_bp,
                free.revenue_roi_bp,
                free.cost_per_conversion_minor
            ),
            (None, None, None)
        );
        let losing = campaign_return(&CampaignMoney {
            campaign_cost_minor: 90_001,
            ..money
        });
        assert_eq!(losing.roi_bp, Some(-4_667), "-42,001 / 90,001 = -0.466672");
    }
}
