"""Security event sources, each behind `SecuritySource` (integrations.security.types)."""
