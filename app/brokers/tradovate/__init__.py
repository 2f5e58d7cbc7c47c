"""The Tradovate adapter: REST transport, wire parsing and the market-data socket."""
