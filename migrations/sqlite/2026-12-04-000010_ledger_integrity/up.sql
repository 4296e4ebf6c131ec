-- The form a document's hash was computed in (docs/ledger.md): 1 for documents issued before
-- the hash covered every printed field, 2 since.
ALTER TABLE invoices ADD COLUMN chain_format BIGINT NOT NULL DEFAULT 1;
-- What the document prints beyond its lines, as one JSON object: the number of the invoice a
-- credit note corrects, and what art. 226 of the VAT Directive asks for (why a 0% line is
-- exempt, whether the customer accounts for the VAT, the date of supply where it differs from
-- the issue date).
ALTER TABLE invoices ADD COLUMN mentions TEXT;

-- A credit note's line names the line of the original it credits, so that no line is credited
-- beyond what it invoiced.
ALTER TABLE invoice_lines ADD COLUMN credits_line_id TEXT REFERENCES invoice_lines (id);

-- The ledger dates documents by the calendar of our fiscal time zone, not by a node's clock.
ALTER TABLE company_settings ADD COLUMN fiscal_time_zone TEXT NOT NULL DEFAULT 'Europe/Madrid';

-- A prefix names one series, so that no two series can print the same number.
CREATE UNIQUE INDEX invoice_series_prefix ON invoice_series (prefix);

-- An issued invoice or credit note is a legal record. Whatever the application does, the
-- database refuses to change what was printed or to delete it: only the derived columns
-- (status, credited and paid amounts, the acceptance decision, version) may change.
CREATE TRIGGER invoices_issued_are_frozen
BEFORE UPDATE ON invoices
WHEN OLD.number IS NOT NULL AND (
        NEW.id IS NOT OLD.id
     OR NEW.kind IS NOT OLD.kind
     OR NEW.series_id IS NOT OLD.series_id
     OR NEW.number IS NOT OLD.number
     OR NEW.sequence IS NOT OLD.sequence
     OR NEW.company_id IS NOT OLD.company_id
     OR NEW.currency IS NOT OLD.currency
     OR NEW.issue_date IS NOT OLD.issue_date
     OR NEW.due_date IS NOT OLD.due_date
     OR NEW.notes IS NOT OLD.notes
     OR NEW.corrects_invoice_id IS NOT OLD.corrects_invoice_id
     OR NEW.correction_reason IS NOT OLD.correction_reason
     OR NEW.agreement_id IS NOT OLD.agreement_id
     OR NEW.issuer_snapshot IS NOT OLD.issuer_snapshot
     OR NEW.recipient_snapshot IS NOT OLD.recipient_snapshot
     OR NEW.subtotal_minor IS NOT OLD.subtotal_minor
     OR NEW.discount_minor IS NOT OLD.discount_minor
     OR NEW.tax_minor IS NOT OLD.tax_minor
     OR NEW.total_minor IS NOT OLD.total_minor
     OR NEW.previous_hash IS NOT OLD.previous_hash
     OR NEW.hash IS NOT OLD.hash
     OR NEW.issued_at IS NOT OLD.issued_at
     OR NEW.created_at IS NOT OLD.created_at
     OR NEW.chain_format IS NOT OLD.chain_format
     OR NEW.mentions IS NOT OLD.mentions)
BEGIN
    SELECT RAISE(ABORT, 'issued invoice: its printed columns are frozen');
END;

CREATE TRIGGER invoices_issued_stay_issued
BEFORE UPDATE ON invoices
WHEN OLD.number IS NOT NULL AND NEW.status = 'draft'
BEGIN
    SELECT RAISE(ABORT, 'issued invoice: it cannot become a draft again');
END;

CREATE TRIGGER invoices_issued_are_kept
BEFORE DELETE ON invoices
WHEN OLD.number IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'issued invoice: it cannot be deleted');
END;

CREATE TRIGGER invoice_lines_issued_are_frozen
BEFORE UPDATE ON invoice_lines
WHEN (SELECT number FROM invoices WHERE id = OLD.invoice_id) IS NOT NULL AND (
        NEW.id IS NOT OLD.id
     OR NEW.invoice_id IS NOT OLD.invoice_id
     OR NEW.position IS NOT OLD.position
     OR NEW.is_credit IS NOT OLD.is_credit
     OR NEW.order_id IS NOT OLD.order_id
     OR NEW.order_line_id IS NOT OLD.order_line_id
     OR NEW.product_id IS NOT OLD.product_id
     OR NEW.description IS NOT OLD.description
     OR NEW.quantity_milli IS NOT OLD.quantity_milli
     OR NEW.unit_price_minor IS NOT OLD.unit_price_minor
     OR NEW.discount_bp IS NOT OLD.discount_bp
     OR NEW.tax_rate_bp IS NOT OLD.tax_rate_bp
     OR NEW.gross_minor IS NOT OLD.gross_minor
     OR NEW.discount_minor IS NOT OLD.discount_minor
     OR NEW.net_minor IS NOT OLD.net_minor
     OR NEW.credits_line_id IS NOT OLD.credits_line_id)
BEGIN
    SELECT RAISE(ABORT, 'issued invoice: its lines are frozen');
END;

CREATE TRIGGER invoice_lines_issued_are_kept
BEFORE DELETE ON invoice_lines
WHEN (SELECT number FROM invoices WHERE id = OLD.invoice_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'issued invoice: its lines cannot be deleted');
END;

CREATE TRIGGER invoice_lines_issued_are_complete
BEFORE INSERT ON invoice_lines
WHEN (SELECT number FROM invoices WHERE id = NEW.invoice_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'issued invoice: no line can be added');
END;
