pub mod invoices;
pub mod portal;
pub mod returns;
pub mod self_billing;
use crate::platform::routing::Segmented;

/// The context's `/v1` routes; `crate::contexts` composes the contexts.
pub fn routes(cfg: &mut impl Segmented) {
    cfg.segment("/invoice-series", invoices::invoice_series_routes);
    cfg.segment("/invoices", invoices::invoices_routes);
    cfg.segment("/invoices", self_billing::invoices_routes);
    cfg.segment("/self-billing", self_billing::self_billing_routes);
    cfg.segment("/portal", self_billing::portal_routes);
    cfg.segment("/portal", portal::routes);
    cfg.segment("/returns", returns::routes);
}
