-- An API key may have its own budget of requests per minute; NULL takes the server's
-- `CRM_RATE_LIMIT_PER_MINUTE`. The API checks it is at least 1.
ALTER TABLE api_keys ADD COLUMN rate_limit_per_minute BIGINT;
