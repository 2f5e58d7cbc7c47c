"""What guards open positions: advanced orders, the monitor, halts and the kill switch."""
