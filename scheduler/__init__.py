"""Background work on a schedule: error scans and the daily digest, one leader at a time."""
