"""Broker adapters behind one protocol."""
