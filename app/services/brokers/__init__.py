"""Broker adapters behind one port: PaperBroker and (later) TradovateBroker."""
