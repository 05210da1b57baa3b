# Adds up the VSTest summary lines of `dotnet test` and prints the one plain line CI reads.
/^(Passed|Failed)! +- +Failed:/ {
  line = $0; gsub(",", "", line); n = split(line, w, /[ \t]+/)
  for (i = 1; i < n; i++) {
    if (w[i] == "Failed:") f += w[i+1]; else if (w[i] == "Passed:") p += w[i+1]; else if (w[i] == "Skipped:") s += w[i+1]
  }
  runs++
}
END {
  printf "tests: %d passed, %d failed, %d skipped\n", p, f, s
  if (runs == 0) { print "no test summary found in dotnet test output"; exit 1 }
  if (p == 0) { print "no test passed"; exit 1 }
}
