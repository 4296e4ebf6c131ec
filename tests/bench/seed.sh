# Sourced by the bench, fault and soak scripts: what they need besides `crm demo-data`.
# The five products the order scenarios sell (SKU LOAD-0 to LOAD-4).
create_load_products() { # base-url token
  for i in 0 1 2 3 4; do
    curl -s -o /dev/null -X POST "$1/v1/products" -H "Authorization: Bearer $2" -H 'content-type: application/json' \
      -d "{\"sku\": \"LOAD-$i\", \"name\": \"Load $i\", \"unit_price\": {\"amount_minor\": 1000, \"currency\": \"EUR\"}, \"unit_cost\": {\"amount_minor\": 600, \"currency\": \"EUR\"}, \"tax_rate_bp\": 2100}"
  done
}

