pub mod invoices;
pub mod portal;
pub mod returns;
pub mod self_billing;
use crate::platform::routing::{Register, Segmented};

/// The context's `/v1` routes; `crate::contexts` composes the contexts.
pub fn routes(cfg: &mut impl Segmented) {
    cfg.segment("/invoice-series", |cfg| {
        cfg.service(invoices::list_series);
        cfg.service(invoices::create_series);
        cfg.service(invoices::get_series);
        cfg.service(invoices::update_series);
        cfg.service(invoices::verify_series);
    });
    cfg.segment("/invoices", |cfg| {
        cfg.service(invoices::list_invoices);
        cfg.service(invoices::create_invoice);
        cfg.service(invoices::get_invoice);
        cfg.service(invoices::update_invoice);
        cfg.service(invoices::delete_invoice);
        cfg.service(invoices::issue_invoice);
        cfg.service(invoices::create_credit_note);
        cfg.service(invoices::create_payment);
        cfg.service(invoices::list_payments);
        cfg.service(self_billing::accept_invoice);
        cfg.service(self_billing::dispute_invoice);
    });
    cfg.segment("/self-billing", |cfg| {
        cfg.service(self_billing::list_agreements);
        cfg.service(self_billing::create_agreement);
        cfg.service(self_billing::get_agreement);
        cfg.service(self_billing::terminate_agreement);
    });
    cfg.segment("/portal", |cfg| {
        cfg.service(self_billing::create_self_billed_invoice);
        cfg.service(portal::list_portal_invoices);
        cfg.service(portal::get_portal_invoice);
        cfg.service(portal::list_portal_orders);
        cfg.service(portal::get_portal_order);
        cfg.service(portal::list_portal_quotes);
        cfg.service(portal::get_portal_quote);
        cfg.service(portal::accept_portal_quote);
        cfg.service(portal::reject_portal_quote);
        cfg.service(portal::list_portal_returns);
        cfg.service(portal::get_portal_return);
        cfg.service(portal::create_portal_return);
        cfg.service(portal::get_fiscal_data);
        cfg.service(portal::update_fiscal_data);
    });
    cfg.segment("/returns", |cfg| {
        cfg.service(returns::list_returns);
        cfg.service(returns::create_return);
        cfg.service(returns::return_report);
        cfg.service(returns::get_return);
        cfg.service(returns::update_return);
        cfg.service(returns::approve_return);
        cfg.service(returns::reject_return);
        cfg.service(returns::receive_return);
        cfg.service(returns::resolve_return);
        cfg.service(returns::close_return);
        cfg.service(returns::withdraw_return);
    });
}
