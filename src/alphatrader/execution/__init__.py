"""Order manager, ledger, and brokers (simulated now; Alpaca and IBKR share the protocol)."""
