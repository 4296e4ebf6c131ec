DROP TABLE leads;
DROP TABLE order_lines;
DROP TABLE orders;
DROP TABLE quote_lines;
DROP TABLE quotes;
DROP TABLE products;
DROP TABLE counters;
