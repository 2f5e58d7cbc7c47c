"""Alerts and manual tickets into orders: execution, the risk gate, order intents."""
