"""Pre-trade risk checks: every order is Approved or Rejected(rule, reason), never dropped."""
