"""Broker adapters behind one port (base.py): the paper venue and Tradovate; registry chooses."""
