"""Sizing and the small-account safety rules."""
