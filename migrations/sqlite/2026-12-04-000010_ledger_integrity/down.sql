DROP TRIGGER IF EXISTS invoice_lines_issued_are_complete;
DROP TRIGGER IF EXISTS invoice_lines_issued_are_kept;
DROP TRIGGER IF EXISTS invoice_lines_issued_are_frozen;
DROP TRIGGER IF EXISTS invoices_issued_are_kept;
DROP TRIGGER IF EXISTS invoices_issued_stay_issued;
DROP TRIGGER IF EXISTS invoices_issued_are_frozen;
DROP INDEX IF EXISTS invoice_series_prefix;
ALTER TABLE company_settings DROP COLUMN fiscal_time_zone;
