"""The suite around the science: command line, run directories, provenance, benchmarks."""

PROG = "acktr-bench"
