"""Backtesting: performance metrics (`metrics`) and the offline HTML tear sheet (`tearsheet`)."""
