"""Market data providers, the provider chain and the freshness check."""
