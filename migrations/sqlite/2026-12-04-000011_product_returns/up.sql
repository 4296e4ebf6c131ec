-- Refunds, credits and concessions per product and salesperson, so that commissions and
-- product margins count only what the customer kept. Existing rows start at zero:
-- `crm analytics rebuild` fills them from the returns and credit notes already recorded.
ALTER TABLE product_rollups ADD COLUMN returns_minor BIGINT NOT NULL DEFAULT 0;
