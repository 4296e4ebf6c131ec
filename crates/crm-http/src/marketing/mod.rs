//! Marketing: campaigns, their costs and members.

pub mod campaigns;
pub mod consents;
pub mod segments;

use crm_store::marketing::Audience;

use crate::platform::routing::Segmented;
use crate::platform::state::HttpSettings;

/// How campaigns and segments judge who they reach, and as of when.
pub fn audience(settings: &HttpSettings) -> Audience {
    Audience {
        clock: settings.clock,
        opt_in: settings.consent_opt_in,
    }
}

/// The context's `/v1` routes; `crate::contexts` composes the contexts.
pub fn routes(cfg: &mut impl Segmented) {
    cfg.segment("/campaigns", campaigns::routes);
    cfg.segment("/segments", segments::routes);
    cfg.segment("/contacts", consents::contacts_routes);
    cfg.segment("/unsubscribe", consents::unsubscribe_routes);
}
