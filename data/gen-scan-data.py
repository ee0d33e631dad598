#!/usr/bin/env python3
"""Regenerates the scan data files hound embeds (include_str!):

  top-tcp-ports.txt  TCP ports ranked by nmap's open-frequency (nmap-services)
  oui.txt            MAC prefix -> organisation, from the IEEE registries
                     (MA-L/MA-M/MA-S/IAB, as shipped in a CSV export)

Usage: gen-scan-data.py /usr/share/nmap/nmap-services path/to/oui.csv
"""
import csv, sys

services, oui_csv = sys.argv[1], sys.argv[2]
ports = []
for line in open(services, encoding="utf-8", errors="replace"):
    if line.startswith("#"):
        continue
    f = line.split()
    if len(f) < 3 or not f[1].endswith("/tcp"):
        continue
    ports.append((-float(f[2]), int(f[1].split("/")[0])))
ports.sort()
with open("top-tcp-ports.txt", "w") as out:
    out.write("# TCP ports by nmap-services open frequency, most frequent first (top 1000)\n")
    for _, p in ports[:1000]:
        out.write(f"{p}\n")

rows = {}
with open(oui_csv, encoding="utf-8", errors="replace") as fh:
    for r in csv.DictReader(fh):
        prefix = r["oui"].replace(":", "").replace("-", "").upper()
        name = " ".join(r["companyName"].split())
        if len(prefix) in (6, 7, 9) and name and r.get("isPrivate", "0") != "1":
            rows[prefix] = name
with open("oui.txt", "w") as out:
    out.write("# MAC prefix (6, 7 or 9 hex digits) TAB organisation; IEEE registry data\n")
    for k in sorted(rows):
        out.write(f"{k}\t{rows[k]}\n")
