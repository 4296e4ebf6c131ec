"""Turns the JSON lines of tests/bench/load.sh into the Markdown tables of docs/benchmarks.md."""
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]


def find(backend, op):
    return next((r for r in rows if r.get("backend") == backend and r.get("op") == op), None)


floor = find("floor", "floor")
print("| backend | operation | req/s | p50 ms | p99 ms | p99.9 ms | errors |")
print("|---|---|---:|---:|---:|---:|---:|")
for r in rows:
    if "per_second" in r and "p50_ms" in r:
        print(f"| {r['backend']} | {r['op']} | {r['per_second']:.0f} | {r['p50_ms']:.2f} | "
              f"{r['p99_ms']:.2f} | {r['p999_ms']:.2f} | {r.get('errors', 0)} |")
print()
print("| ratio | value |")
print("|---|---:|")


def ratio(label, a, b):
    if a and b and b.get("per_second"):
        print(f"| {label} | {a['per_second'] / b['per_second']:.2f} |")


ratio("PostgreSQL get-by-id / raw select (plain pool)", find("postgres", "get_contact"), find("postgres", "raw select by id"))
ratio("PostgreSQL get-by-id / pgbench select", find("postgres", "get_contact"), find("postgres", "pgbench select"))
ratio("PostgreSQL create / raw insert (plain pool)", find("postgres", "create_contact"), find("postgres", "raw insert"))
ratio("PostgreSQL create / pgbench insert", find("postgres", "create_contact"), find("postgres", "pgbench insert"))
ratio("PostgreSQL get-by-id / Directus get-by-id", find("postgres", "get_contact"), find("directus", "get_contact"))
ratio("SQLite get-by-id / HTTP floor", find("sqlite", "get_contact"), floor)
ratio("SQLite get-by-id / raw select (plain pool)", find("sqlite", "get_contact"), find("sqlite", "raw select by id"))
ratio("PostgreSQL get-by-id / HTTP floor", find("postgres", "get_contact"), floor)
for r in rows:
    if r.get("op") == "start to ready":
        print(f"| {r['backend']}: start to ready (ms) | {r['ms']} |")
        print(f"| {r['backend']}: idle RSS (MB) | {r['idle_rss_mb']} |")
for r in rows:
    if r.get("op", "").startswith("pgbench"):
        print(f"| {r['op']}: tps (avg {r['avg_ms']} ms) | {r['per_second']:.0f} |")
