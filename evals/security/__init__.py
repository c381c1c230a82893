"""The security triage suite: cases generated from the shared security dataset, scoring and
baselines. See docs/security-triage.md."""
