"""Model gateway: providers behind one protocol, tiers with fallback, prices, caps, ledger."""
