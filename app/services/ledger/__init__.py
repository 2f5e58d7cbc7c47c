"""The one writer of orders' broker state, fills, positions and trades."""
