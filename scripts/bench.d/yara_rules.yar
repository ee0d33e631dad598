// Rules of the yara benchmark row (scripts/bench.d/yara_task.py): a feed-like
// mix of plain, regex, hex-with-jumps, nocase/wide and header-check rules.
rule bench_webshell : webshell {
  meta:
    severity = "critical"
  strings:
    $marker = "HOUND-YARA-FIXTURE-7b1e"
    $eval = /eval\s*\(\s*\$_(POST|GET|REQUEST)/
  condition:
    $marker and $eval
}

rule bench_reverse_shell {
  strings:
    $nc = { 6e 63 20 2d 65 [1-16] 2f 62 69 6e 2f (73 | 62 61 73) 68 }
    $word = "reverse_shell" nocase wide ascii
  condition:
    any of them
}

rule bench_elf_in_web_tree {
  condition:
    uint32(0) == 0x464c457f
}

rule bench_b64_eval {
  strings:
    $b = "ZXZhbChiYXNlNjRfZGVjb2Rl"
    $c = "base64_decode(" nocase
  condition:
    all of them
}
