"""Jobs: the daily after-market run, its bookkeeping, and the scheduler."""
