DROP TABLE idempotency_keys;
DROP TABLE login_failures;
DROP TABLE api_keys;
DROP TABLE refresh_tokens;
DROP TABLE interactions;
DROP TABLE contacts;
ALTER TABLE users DROP CONSTRAINT users_company_fk;
DROP TABLE companies;
DROP TABLE users;
