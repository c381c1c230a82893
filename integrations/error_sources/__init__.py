"""Error sources for background scans (Sentry, logs) and log-template mining."""
