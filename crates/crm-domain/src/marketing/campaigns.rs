//! Campaigns: their states, the channels they reach people on, the members' progress, and
//! which orders count for them.

use chrono::{Days, NaiveDate};

use crate::platform::transitions::IllegalTransition;
use crate::{Violation, Violations};

text_enum! {
    /// How a campaign reaches people.
    CampaignChannel {
        Email => "email",
        Phone => "phone",
        Visit => "visit",
        Event => "event",
        Ads => "ads",
        Other => "other",
    }
}

text_enum! {
    /// A channel a person may or may not agree to be contacted on.
    ConsentChannel {
        Email => "email",
        Phone => "phone",
        Sms => "sms",
        Post => "post",
    }
}

text_enum! {
    /// What a segment's members are.
    SegmentSubject {
        Companies => "companies",
        Contacts => "contacts",
    }
}

text_enum! {
    CampaignStatus {
        Planned => "planned",
        Active => "active",
        Completed => "completed",
        Cancelled => "cancelled",
    }
}

text_enum! {
    CampaignAction {
        Activate => "activate",
        Complete => "complete",
        Cancel => "cancel",
    }
}

text_enum! {
    /// How far a member went. It only moves forward, except to `opted_out`.
    MemberStatus {
        Targeted => "targeted",
        Contacted => "contacted",
        Responded => "responded",
        Converted => "converted",
        OptedOut => "opted_out",
    }
}

impl CampaignChannel {
    /// The consent a campaign on this channel needs by default: email and phone campaigns
    /// reach people on those channels; visits, events and ads reach no one's inbox.
    pub fn default_consent_channel(self) -> Option<ConsentChannel> {
        match self {
            CampaignChannel::Email => Some(ConsentChannel::Email),
            CampaignChannel::Phone => Some(ConsentChannel::Phone),
            CampaignChannel::Visit
            | CampaignChannel::Event
            | CampaignChannel::Ads
            | CampaignChannel::Other => None,
        }
    }
}

pub fn allowed_actions(status: CampaignStatus) -> &'static [CampaignAction] {
    use CampaignAction::*;
    match status {
        CampaignStatus::Planned => &[Activate, Cancel],
        CampaignStatus::Active => &[Complete, Cancel],
        CampaignStatus::Completed | CampaignStatus::Cancelled => &[],
    }
}

/// The state after `action`.
pub fn transition(
    status: CampaignStatus,
    action: CampaignAction,
) -> Result<CampaignStatus, IllegalTransition> {
    let allowed = allowed_actions(status);
    if !allowed.contains(&action) {
        return Err(IllegalTransition::refused(
            "campaign",
            action.as_str(),
            status.as_str(),
            allowed.iter().map(|a| a.as_str()),
        ));
    }
    Ok(match action {
        CampaignAction::Activate => CampaignStatus::Active,
        CampaignAction::Complete => CampaignStatus::Completed,
        CampaignAction::Cancel => CampaignStatus::Cancelled,
    })
}

/// The dates a campaign runs, and how long after its end an order still counts for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub attribution_window_days: i32,
}

/// The longest attribution window, so that the last counted day stays a date.
pub const MAX_ATTRIBUTION_WINDOW_DAYS: i32 = 3_660;

impl Schedule {
    pub fn validate(&self) -> Result<(), Violations> {
        let mut violations = Violations::default();
        if self.ends_on < self.starts_on {
            violations.push(Violation::new("ends_on", "is before starts_on"));
        }
        if !(0..=MAX_ATTRIBUTION_WINDOW_DAYS).contains(&self.attribution_window_days) {
            violations.push(Violation::new(
                "attribution_window_days",
                format!("must be from 0 to {MAX_ATTRIBUTION_WINDOW_DAYS}"),
            ));
        }
        violations.into_result()
    }

    /// The last day an order counts for the campaign: its end plus the window.
    pub fn last_counted_day(&self) -> NaiveDate {
        let window = u64::try_from(self.attribution_window_days).unwrap_or(0);
        self.ends_on
            .checked_add_days(Days::new(window))
            .unwrap_or(NaiveDate::MAX)
    }

    /// Whether an order placed on `day` counts for the campaign: from its start to its end
    /// plus the window, both days included. Others count only as outside the window.
    pub fn counts(&self, day: NaiveDate) -> bool {
        self.starts_on <= day && day <= self.last_counted_day()
    }
}

/// A member's status after a requested one: forward only (`409` otherwise), and a member who
/// opted out stays out.
pub fn advance(from: MemberStatus, to: MemberStatus) -> Result<MemberStatus, IllegalTransition> {
    let allowed: Vec<&str> = MemberStatus::ALL
        .iter()
        .filter(|s| {
            rank(**s)
                .zip(rank(from))
                .is_some_and(|(next, now)| next > now)
        })
        .map(|s| s.as_str())
        .collect();
    match rank(to).zip(rank(from)) {
        Some((next, now)) if next > now => Ok(to),
        _ => Err(IllegalTransition::refused(
            "campaign member",
            to.as_str(),
            from.as_str(),
            allowed,
        )),
    }
}

/// A member's place on the way to conversion; none once opted out.
fn rank(status: MemberStatus) -> Option<u8> {
    match status {
        MemberStatus::Targeted => Some(0),
        MemberStatus::Contacted => Some(1),
        MemberStatus::Responded => Some(2),
        MemberStatus::Converted => Some(3),
        MemberStatus::OptedOut => None,
    }
}

/// Whether an attributed order moves a member to `converted`: any member still on the way.
pub fn converts(status: MemberStatus) -> bool {
    rank(status).is_some_and(|r| r < 3)
}

/// The UTM parameters a shop sent with an order. `campaign` equal to a campaign's code, case
/// ignored, attributes the order to that campaign.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Utm {
    pub source: Option<String>,
    pub medium: Option<String>,
    pub campaign: Option<String>,
    pub term: Option<String>,
    pub content: Option<String>,
}

/// The channels that need a `granted` consent to be used (`CRM_CONSENT_OPT_IN_CHANNELS`,
/// email and SMS by default); the others work unless withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptIn(u8);

impl OptIn {
    fn bit(channel: ConsentChannel) -> u8 {
        match channel {
            ConsentChannel::Email => 1,
            ConsentChannel::Phone => 2,
            ConsentChannel::Sms => 4,
            ConsentChannel::Post => 8,
        }
    }

    pub fn of(channels: &[ConsentChannel]) -> OptIn {
        OptIn(channels.iter().fold(0, |bits, c| bits | OptIn::bit(*c)))
    }

    pub fn contains(self, channel: ConsentChannel) -> bool {
        self.0 & OptIn::bit(channel) != 0
    }

    /// `email,sms`; an empty list makes every channel work unless withdrawn.
    pub fn parse(text: &str) -> Result<OptIn, String> {
        let channels = text
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| {
                c.parse::<ConsentChannel>().map_err(|_| {
                    format!("`{c}` is not a consent channel (email, phone, sms, post)")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(OptIn::of(&channels))
    }
}

impl Default for OptIn {
    fn default() -> OptIn {
        OptIn::of(&[ConsentChannel::Email, ConsentChannel::Sms])
    }
}

/// What is known of one person on one channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reach {
    /// An address on the channel (an email, a phone number).
    pub has_address: bool,
    pub granted: bool,
    pub withdrawn: bool,
}

/// Whether a campaign needing `channel` may reach a person: one with an address there who has
/// not withdrawn, and on an opt-in channel has granted. A campaign needing no channel reaches
/// everyone.
pub fn reachable(channel: Option<ConsentChannel>, reach: Reach, opt_in: OptIn) -> bool {
    match channel {
        None => true,
        Some(channel) => {
            reach.has_address && !reach.withdrawn && (reach.granted || !opt_in.contains(channel))
        }
    }
}

/// Campaign codes compare without case, so a shop's `utm_campaign=Spring-Sale` finds `spring-sale`.
pub fn code_key(code: &str) -> String {
    code.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn schedule(window: i32) -> Schedule {
        Schedule {
            starts_on: day("2026-03-01"),
            ends_on: day("2026-03-31"),
            attribution_window_days: window,
        }
    }

    #[test]
    fn an_order_counts_from_the_start_to_the_end_plus_the_window() {
        let s = schedule(30);
        assert!(!s.counts(day("2026-02-28")));
        assert!(s.counts(day("2026-03-01")));
        assert!(s.counts(day("2026-03-31")));
        assert!(s.counts(day("2026-04-30")), "the 30th day after the end");
        assert!(!s.counts(day("2026-05-01")));
        let none = schedule(0);
        assert!(none.counts(day("2026-03-31")));
        assert!(!none.counts(day("2026-04-01")));
    }

    #[test]
    fn a_schedule_ends_after_it_starts_and_has_a_bounded_window() {
        assert!(schedule(30).validate().is_ok());
        let backwards = Schedule {
            ends_on: day("2026-02-01"),
            ..schedule(30)
        };
        assert_eq!(backwards.validate().unwrap_err().0[0].field, "ends_on");
        assert!(schedule(-1).validate().is_err());
        assert!(schedule(MAX_ATTRIBUTION_WINDOW_DAYS + 1)
            .validate()
            .is_err());
    }

    #[test]
    fn campaigns_move_planned_active_completed_or_cancelled() {
        use CampaignAction::*;
        use CampaignStatus::*;
        assert_eq!(transition(Planned, Activate).unwrap(), Active);
        assert_eq!(transition(Active, Complete).unwrap(), Completed);
        assert_eq!(transition(Planned, Cancel).unwrap(), Cancelled);
        assert_eq!(transition(Active, Cancel).unwrap(), Cancelled);
        let refused = transition(Planned, Complete).unwrap_err();
        assert_eq!(refused.allowed, vec!["activate", "cancel"]);
        assert!(transition(Completed, Cancel)
            .unwrap_err()
            .allowed
            .is_empty());
    }

    #[test]
    fn members_move_forward_only_and_stay_out_once_opted_out() {
        use MemberStatus::*;
        assert_eq!(advance(Targeted, Responded).unwrap(), Responded);
        assert_eq!(
            advance(Contacted, OptedOut).unwrap_err().action,
            "opted_out"
        );
        let back = advance(Responded, Contacted).unwrap_err();
        assert_eq!(back.allowed, vec!["converted"]);
        assert!(advance(Converted, Converted).is_err());
        assert!(advance(OptedOut, Converted).is_err());
        assert!(converts(Responded));
        assert!(!converts(Converted));
        assert!(!converts(OptedOut));
    }

    #[test]
    fn opt_in_channels_need_a_grant_and_others_only_no_withdrawal() {
        let address = Reach {
            has_address: true,
            ..Reach::default()
        };
        let granted = Reach {
            granted: true,
            ..address
        };
        let withdrawn = Reach {
            withdrawn: true,
            ..granted
        };
        assert!(!reachable(
            Some(ConsentChannel::Email),
            address,
            OptIn::default()
        ));
        assert!(reachable(
            Some(ConsentChannel::Email),
            granted,
            OptIn::default()
        ));
        assert!(!reachable(
            Some(ConsentChannel::Email),
            withdrawn,
            OptIn::default()
        ));
        assert!(reachable(
            Some(ConsentChannel::Phone),
            address,
            OptIn::default()
        ));
        assert!(!reachable(
            Some(ConsentChannel::Phone),
            withdrawn,
            OptIn::default()
        ));
        assert!(
            !reachable(
                Some(ConsentChannel::Phone),
                Reach::default(),
                OptIn::default()
            ),
            "no number"
        );
        assert!(reachable(None, Reach::default(), OptIn::default()));
        let phone_too = OptIn::parse(" email, phone ").unwrap();
        assert!(!reachable(Some(ConsentChannel::Phone), address, phone_too));
        assert!(reachable(Some(ConsentChannel::Sms), address, phone_too));
        let none = OptIn::parse("").unwrap();
        assert!(reachable(Some(ConsentChannel::Email), address, none));
        assert!(!reachable(Some(ConsentChannel::Email), withdrawn, none));
        assert_eq!(OptIn::parse("email,sms").unwrap(), OptIn::default());
        assert!(OptIn::parse("email,fax").unwrap_err().contains("fax"));
    }

    #[test]
    fn email_and_phone_campaigns_need_that_consent_by_default() {
        assert_eq!(
            CampaignChannel::Email.default_consent_channel(),
            Some(ConsentChannel::Email)
        );
        assert_eq!(CampaignChannel::Ads.default_consent_channel(), None);
        assert_eq!(code_key(" Spring-Sale "), "spring-sale");
    }
}
