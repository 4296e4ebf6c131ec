-- One scenario per run, chosen by the SCENARIO environment variable:
-- get_contact, list_contacts, filter_contacts, create_contact, upsert_order, overview, floor,
-- directus_contact (the peer).
package.path = package.path .. ";" .. os.getenv("WRK_DIR") .. "/?.lua"
local common = require("common")
local scenario = os.getenv("SCENARIO")
local token = os.getenv("TOKEN") or ""
local contacts = common.lines(os.getenv("CONTACT_IDS") or "")
local companies = common.lines(os.getenv("COMPANY_IDS") or "")
local counter = 0

function setup(thread)
  thread:set("thread_tag", tostring(math.random(1, 1e9)))
end

function init(args)
  math.randomseed(os.time() + tonumber(thread_tag or "0"))
end

local function order_body(external)
  local lines = {}
  for i = 0, 4 do
    lines[i] = string.format(
      '{"sku": "LOAD-%d", "description": "Load line", "quantity": "2", "unit_price": {"amount_minor": %d, "currency": "EUR"}, "unit_cost": {"amount_minor": 600, "currency": "EUR"}, "tax_rate_bp": 2100}',
      i, 1000 + i)
  end
  return string.format(
    '{"ordered_at": "2026-11-01T10:00:00Z", "currency": "EUR", "status": "paid", "customer": {"email": "%s@example.com"}, "lines": [%s]}',
    external, table.concat(lines, ","))
end

function request()
  counter = counter + 1
  local headers = {["Authorization"] = "Bearer " .. token}
  if scenario == "get_contact" then
    return wrk.format("GET", "/v1/contacts/" .. contacts[math.random(#contacts)], headers)
  elseif scenario == "list_contacts" then
    return wrk.format("GET", "/v1/contacts?limit=50", headers)
  elseif scenario == "filter_contacts" then
    return wrk.format("GET", "/v1/contacts?q=an&limit=50", headers)
  elseif scenario == "create_contact" then
    headers["Content-Type"] = "application/json"
    return wrk.format("POST", "/v1/contacts", headers, string.format(
      '{"last_name": "Load", "email": "load-%s-%d@example.com"}', thread_tag, counter))
  elseif scenario == "upsert_order" then
    headers["Content-Type"] = "application/json"
    local external = string.format("%s-%d", thread_tag, counter)
    return wrk.format("PUT", "/v1/orders/by-external-id/load/" .. external, headers, order_body(external))
  elseif scenario == "directus_contact" then
    return wrk.format("GET", "/items/contacts/" .. contacts[math.random(#contacts)], headers)
  elseif scenario == "overview" then
    return wrk.format("GET", "/v1/companies/" .. companies[math.random(#companies)] .. "/overview", headers)
  else
    return wrk.format("GET", "/", {})
  end
end

done = common.done(scenario)
