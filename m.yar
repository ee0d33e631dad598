rule inmem_marker : test {
  meta:
    severity = "critical"
    mitre = "T1620"
  strings:
    $m = "HOUND-YARA-INMEM-7342"
  condition:
    $m
}
