#!/usr/bin/python3
"""Parse `shipworm metrics` (standard input) with the Prometheus client library's own
parser, as a scraper of node_exporter's textfile collector would. Exits 1 unless every
family parses, every sample carries role=ROLE, and the drop counters, the version and
the daemon's age are there."""
import sys

from prometheus_client.parser import text_string_to_metric_families

role = sys.argv[1]
families = list(text_string_to_metric_families(sys.stdin.read()))
samples = [s for f in families for s in f.samples]
bad = [s for s in samples if s.labels.get("role") != role]
dropped = [f for f in families if f.name == "shipworm_dropped" and f.type == "counter"]
version = [s for s in samples if s.name == "shipworm_version_info" and s.labels.get("version")]
uptime = [f for f in families if f.name == "shipworm_uptime_seconds" and f.type == "gauge"]
print(f"{len(families)} families, {len(samples)} samples, role {role}")
if not samples or bad or not dropped or not any(s.labels.get("reason") for s in dropped[0].samples) \
        or not version or not uptime:
    print("bad:", bad[:3], "dropped family:", bool(dropped), "version:", bool(version), "uptime:", bool(uptime))
    sys.exit(1)
