DROP INDEX webhook_deliveries_pending_in_order;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, event_tx, event_position)
    WHERE status = 'pending';
