"""What the trader configures: accounts, strategies, traders, settings, the owner login."""
