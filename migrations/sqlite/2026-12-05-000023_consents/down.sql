DROP TABLE contact_consents;
