"""End-to-end runs of the benchmark commands under bench/, kept small, so they cannot rot."""
