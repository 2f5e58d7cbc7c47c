"""What every layer may write to: the event bus, the audit log and the alert log."""
