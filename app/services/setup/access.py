"""The broker adapter of an account, given only what the adapter may know of it.

Adapters never read DeskPilot's tables or decrypt its secrets (DESIGN §2): this module
hands them an `AccountAccess` with the credentials already decrypted, and the registry in
app.brokers chooses the adapter.
"""

import logging

from app.brokers import registry
from app.brokers.base import AccountAccess, Broker
from app.brokers.errors import BrokerAuthError
from app.domain.vocabulary import BrokerKind
from app.models import BrokerAccount
from app.services.setup.crypto import SecretUnreadable, decrypt_json

logger = logging.getLogger(__name__)


def access_of(account: BrokerAccount) -> AccountAccess:
    """The account as its adapter sees it; BrokerAuthError when its credentials are
    missing or cannot be decrypted (a changed ENCRYPTION_KEY)."""
    return AccountAccess(
        account_id=account.id,
        broker=str(account.broker),
        environment=str(account.environment),
        credentials=_credentials(account),
        broker_account_id=account.broker_account_id,
        starting_cash=account.starting_balance or 0,
    )


def _credentials(account: BrokerAccount) -> dict | None:
    if account.broker == BrokerKind.PAPER:
        return None
    venue = str(account.broker).capitalize()
    if not account.credentials_encrypted:
        raise BrokerAuthError(f"account {account.name!r} has no {venue} credentials stored")
    try:
        return decrypt_json(account.credentials_encrypted)
    except SecretUnreadable as exc:
        raise BrokerAuthError(
            f"the stored {venue} credentials of {account.name!r} cannot be decrypted "
            "(ENCRYPTION_KEY changed?); enter them again"
        ) from exc


def broker_for(account: BrokerAccount) -> Broker:
    """The adapter that trades `account`."""
    return registry.broker_for(access_of(account))
