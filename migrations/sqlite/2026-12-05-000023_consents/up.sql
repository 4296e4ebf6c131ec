-- Consent per contact and channel, as events: the latest event of a channel is its state.
-- `contacts.marketing_consent` stays as the summary of email. Each contact who had given it
-- gets the event that gave it.
CREATE TABLE contact_consents (
    id TEXT NOT NULL PRIMARY KEY,
    contact_id TEXT NOT NULL REFERENCES contacts (id),
    channel TEXT NOT NULL,
    status TEXT NOT NULL,
    lawful_basis TEXT NOT NULL,
    source TEXT NOT NULL,
    at TIMESTAMP NOT NULL,
    recorded_by TEXT REFERENCES users (id),
    recorded_at TIMESTAMP NOT NULL
);
CREATE INDEX contact_consents_latest ON contact_consents (contact_id, channel, at, id);
INSERT INTO contact_consents (id, contact_id, channel, status, lawful_basis, source, at, recorded_at)
SELECT lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2)
        || '-a' || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))),
    id, 'email', 'granted', 'consent', 'migration', COALESCE(marketing_consent_at, created_at), datetime('now')
FROM contacts WHERE marketing_consent;
