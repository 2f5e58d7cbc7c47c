"""Orchestration: each module owns its transactions and is shared by pages and the API."""
