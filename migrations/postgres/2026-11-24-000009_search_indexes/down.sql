DROP INDEX IF EXISTS contacts_search;
DROP INDEX IF EXISTS companies_search;
DROP INDEX IF EXISTS leads_search;
DROP INDEX IF EXISTS products_search;
