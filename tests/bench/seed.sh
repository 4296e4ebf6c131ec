# Sourced by the bench, fault and soak scripts: what they need besides `crm demo-data`.
# The five products the order scenarios sell (SKU LOAD-0 to LOAD-4).
create_load_products() { # base-url token
  for i in 0 1 2 3 4; do
    curl -s -o /dev/null -X POST "$1/v1/products" -H "Authorization: Bearer $2" -H 'content-type: application/json' \
      -d "{\"sku\": \"LOAD-$i\", \"name\": \"Load $i\", \"unit_price\": {\"amount_minor\": 1000, \"currency\": \"EUR\"}, \"unit_cost\": {\"amount_minor\": 600, \"currency\": \"EUR\"}, \"tax_rate_bp\": 2100}"
  done
}

# Two contacts per company: the demo history has companies and orders, not people.
seed_contacts() { # backend database-url
  if [ "$1" = postgres ]; then
    psql -q "$2" -c "INSERT INTO contacts (id, company_id, first_name, last_name, email, email_key, lifecycle_stage, tags, preferences, marketing_consent, search_text, version, created_at, updated_at)
      SELECT gen_random_uuid()::text, c.id, 'Ana', c.name, 'c' || n || '-' || c.id || '@example.com', 'c' || n || '-' || c.id || '@example.com',
        'customer', '[]', '{}', FALSE, lower('ana ' || c.name), 1, now(), now() FROM companies c, generate_series(1, 2) n"
  else
    sqlite3 "${2#sqlite://}" "INSERT INTO contacts (id, company_id, first_name, last_name, email, email_key, lifecycle_stage, tags, preferences, marketing_consent, search_text, version, created_at, updated_at)
      SELECT lower(hex(randomblob(16))), c.id, 'Ana', c.name, 'c' || n || '-' || c.id || '@example.com', 'c' || n || '-' || c.id || '@example.com',
        'customer', '[]', '{}', 0, lower('ana ' || c.name), 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM companies c, (SELECT 1 AS n UNION ALL SELECT 2)"
  fi
}
