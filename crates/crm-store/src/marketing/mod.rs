//! Marketing: campaigns, their costs and members, and the orders they earn.

pub mod campaigns;
pub mod consents;
pub mod members;
pub mod segments;

use crm_domain::marketing::campaigns::OptIn;

use crate::platform::clock::Clock;

/// How a marketing action judges its audience: the service clock, which a segment's relative
/// dates count from, and the channels that need a granted consent.
#[derive(Debug, Clone, Copy)]
pub struct Audience {
    pub clock: Clock,
    pub opt_in: OptIn,
}
