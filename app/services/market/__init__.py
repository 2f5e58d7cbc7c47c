"""Prices as DeskPilot sees them: the last-price cache (bars and price alerts to come)."""
