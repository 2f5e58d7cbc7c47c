"""Every broker failure, translated at the adapter; the docstrings say how callers react."""


class BrokerError(Exception):
    """A broker call failed. Record the reason and show it; do not retry blindly."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TemporaryBrokerError(BrokerError):
    """Timeout, connection loss or a 5xx: safe to retry later, with backoff, only where
    retrying cannot duplicate an order (reconcile by client order id first)."""


class OrderRejected(BrokerError):
    """The broker refused the order; its words are in `message`. Never retried."""


class AccountLocked(OrderRejected):
    """The broker refused the account, not the order: it is locked, closed or
    liquidation-only. Final: record the order with code `broker_locked`, halt the account
    (kind `broker_locked`, until the trader has dealt with the broker and lifts it) and
    never retry. `closing_allowed` is True when the broker still takes orders that only
    reduce a position (liquidation-only): flattening and protective exits are still worth
    sending then; when False, even a flatten is refused, so stop trying it."""

    def __init__(self, message: str, *, closing_allowed: bool) -> None:
        super().__init__(message)
        self.closing_allowed = closing_allowed


class BrokerAuthError(BrokerError):
    """Credentials are wrong, expired or need the trader (captcha, device approval).
    Stop trading on the account and tell the trader."""


class RateLimited(BrokerError):
    """The broker asks us to slow down; `wait_seconds` is how long. Wait, do not retry now."""

    def __init__(self, message: str, wait_seconds: float) -> None:
        super().__init__(message)
        self.wait_seconds = wait_seconds


class UnknownOrder(BrokerError):
    """Cancel or modify named an order the broker does not hold (or no longer works)."""
