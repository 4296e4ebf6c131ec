DROP TRIGGER IF EXISTS invoice_lines_issued_are_frozen ON invoice_lines;
DROP FUNCTION IF EXISTS refuse_issued_invoice_line_change();
DROP TRIGGER IF EXISTS invoices_issued_are_frozen ON invoices;
DROP FUNCTION IF EXISTS refuse_issued_invoice_change();
DROP INDEX IF EXISTS invoice_series_prefix;
ALTER TABLE company_settings DROP COLUMN fiscal_time_zone;
ALTER TABLE invoices DROP COLUMN mentions;
ALTER TABLE invoice_lines DROP COLUMN credits_line_id;
ALTER TABLE invoices DROP COLUMN chain_format;
