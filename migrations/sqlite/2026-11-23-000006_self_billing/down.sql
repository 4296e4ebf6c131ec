DROP TABLE self_billing_agreements;
