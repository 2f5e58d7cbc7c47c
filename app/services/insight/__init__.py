"""Insight: what the record says about a strategy — analytics, projection, replay (DESIGN §2)."""
