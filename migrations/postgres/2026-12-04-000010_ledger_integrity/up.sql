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
CREATE FUNCTION refuse_issued_invoice_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'issued invoice %: it cannot be deleted', OLD.number
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF (NEW.id, NEW.kind, NEW.series_id, NEW.number, NEW.sequence, NEW.company_id, NEW.currency, NEW.issue_date, NEW.due_date, NEW.notes, NEW.corrects_invoice_id, NEW.correction_reason, NEW.agreement_id, NEW.issuer_snapshot, NEW.recipient_snapshot, NEW.subtotal_minor, NEW.discount_minor, NEW.tax_minor, NEW.total_minor, NEW.previous_hash, NEW.hash, NEW.issued_at, NEW.created_at, NEW.chain_format, NEW.mentions)
       IS DISTINCT FROM
       (OLD.id, OLD.kind, OLD.series_id, OLD.number, OLD.sequence, OLD.company_id, OLD.currency, OLD.issue_date, OLD.due_date, OLD.notes, OLD.corrects_invoice_id, OLD.correction_reason, OLD.agreement_id, OLD.issuer_snapshot, OLD.recipient_snapshot, OLD.subtotal_minor, OLD.discount_minor, OLD.tax_minor, OLD.total_minor, OLD.previous_hash, OLD.hash, OLD.issued_at, OLD.created_at, OLD.chain_format, OLD.mentions) THEN
        RAISE EXCEPTION 'issued invoice %: its printed columns are frozen', OLD.number
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.status = 'draft' THEN
        RAISE EXCEPTION 'issued invoice %: it cannot become a draft again', OLD.number
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER invoices_issued_are_frozen
BEFORE UPDATE OR DELETE ON invoices
FOR EACH ROW WHEN (OLD.number IS NOT NULL)
EXECUTE FUNCTION refuse_issued_invoice_change();

CREATE FUNCTION refuse_issued_invoice_line_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    issued_number TEXT;
BEGIN
    SELECT number INTO issued_number FROM invoices
        WHERE id = CASE WHEN TG_OP = 'INSERT' THEN NEW.invoice_id ELSE OLD.invoice_id END;
    IF issued_number IS NULL THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF TG_OP = 'UPDATE' AND (NEW.id, NEW.invoice_id, NEW.position, NEW.is_credit, NEW.order_id, NEW.order_line_id, NEW.product_id, NEW.description, NEW.quantity_milli, NEW.unit_price_minor, NEW.discount_bp, NEW.tax_rate_bp, NEW.gross_minor, NEW.discount_minor, NEW.net_minor, NEW.credits_line_id)
       IS NOT DISTINCT FROM
       (OLD.id, OLD.invoice_id, OLD.position, OLD.is_credit, OLD.order_id, OLD.order_line_id, OLD.product_id, OLD.description, OLD.quantity_milli, OLD.unit_price_minor, OLD.discount_bp, OLD.tax_rate_bp, OLD.gross_minor, OLD.discount_minor, OLD.net_minor, OLD.credits_line_id) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'issued invoice %: its lines are frozen', issued_number
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;

CREATE TRIGGER invoice_lines_issued_are_frozen
BEFORE INSERT OR UPDATE OR DELETE ON invoice_lines
FOR EACH ROW EXECUTE FUNCTION refuse_issued_invoice_line_change();
