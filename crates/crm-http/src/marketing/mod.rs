//! Marketing: campaigns, their costs and members.

pub mod campaigns;
pub mod consents;
pub mod segments;

use crm_store::marketing::Audience;

use crate::platform::routing::{Register, Segmented};
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
    cfg.segment("/campaigns", |cfg| {
        cfg.service(campaigns::list_campaigns);
        cfg.service(campaigns::create_campaign);
        cfg.service(campaigns::get_campaign);
        cfg.service(campaigns::update_campaign);
        cfg.service(campaigns::activate_campaign);
        cfg.service(campaigns::complete_campaign);
        cfg.service(campaigns::cancel_campaign);
        cfg.service(campaigns::list_costs);
        cfg.service(campaigns::add_cost);
        cfg.service(campaigns::list_members);
        cfg.service(campaigns::add_members);
        cfg.service(campaigns::set_member_status);
    });
    cfg.segment("/segments", |cfg| {
        cfg.service(segments::preview_segment);
        cfg.service(segments::list_segments);
        cfg.service(segments::create_segment);
        cfg.service(segments::get_segment);
        cfg.service(segments::update_segment);
        cfg.service(segments::delete_segment);
        cfg.service(segments::list_segment_members);
        cfg.service(segments::count_segment);
        cfg.service(segments::snapshot_segment);
    });
    cfg.segment("/contacts", |cfg| {
        cfg.service(consents::record_consent);
        cfg.service(consents::get_consents);
        cfg.service(consents::consent_history);
        cfg.service(consents::create_unsubscribe_link);
    });
    cfg.segment("/unsubscribe", |cfg| {
        cfg.service(consents::show_unsubscribe);
        cfg.service(consents::unsubscribe);
    });
}
