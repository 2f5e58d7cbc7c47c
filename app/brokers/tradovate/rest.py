"""Tradovate's REST transport: base URL, timeouts, token sessions, penalties, retries, errors.

Transport only: what a call means is wire.py's and broker.py's business. The rules, each
from reference/tradovate.md:

- Base URL by account environment (§1), or `TRADOVATE_API_URL` (tests point it at a fake).
  Every call has a connect and a read timeout.
- One login per server and credentials, process-wide (`SessionRegistry`): a token is
  requested once, renewed with /auth/renewaccesstoken well before its `expirationTime`,
  and requested again only when renewal is refused, the token expired, or Tradovate stops
  accepting it (401). A renewal that times out keeps the still-valid token for now.
  A new token request opens a new session and Tradovate keeps two (§2.2), so logging in
  per call would throw the trader out of their own platform. A refused login is not
  tried again for `auth_hold` (the auth limit is 10 a minute; a poller would spend it).
- Penalty tickets (§4) are HTTP 200 with `p-ticket`/`p-time`: wait `p-time` (bounded by
  `max_penalty_wait`; longer is RateLimited) and resend the same body plus `p-ticket`.
  `p-captcha` needs a person: CaptchaRequired (a BrokerAuthError).
- 429 locks the IP out for an hour and every request during the lock restarts it; 423
  warns that 429 is near. Both are RateLimited with the wait, and nothing more is sent to
  that server until the wait is over (process-wide), so there is no retry storm.
- Timeouts, connection errors and 5xx are TemporaryBrokerError. `get` and idempotent
  posts retry them with capped exponential backoff. An order is never resent blindly:
  `place` asks the caller's `reconcile` (which lists commands for our clOrdId) after every
  failed try, and resends only when Tradovate holds no order with that id.
- Every failure leaves as a BrokerError subclass, raised from the original exception.
  Bodies, tokens and credentials are never logged: only paths, statuses and waits.
"""

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import requests
from flask import current_app, has_app_context
from urllib3.exceptions import NewConnectionError

from app import redaction
from app.brokers.base import AccountAccess
from app.brokers.errors import BrokerAuthError, BrokerError, RateLimited, TemporaryBrokerError
from app.brokers.tradovate import wire
from app.domain.vocabulary import Environment

logger = logging.getLogger(__name__)

DEMO_URL = "https://demo.tradovateapi.com/v1"
LIVE_URL = "https://live.tradovateapi.com/v1"

CAPTCHA_MESSAGE = (
    "Tradovate wants a captcha solved for this login (a penalty after too many attempts "
    "from this network). DeskPilot cannot solve it: wait about an hour, or log in once on "
    "Tradovate's own site (trader.tradovate.com), then test the connection again."
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Tuning:
    """Timeouts, retry budget and waits; `sleep` and `clock` are replaceable for tests."""

    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    attempts: int = 3  # tries of one call, the first included
    backoff: float = 0.25  # seconds before the second try; doubled each time, capped
    backoff_cap: float = 2.0
    max_penalty_wait: float = 30.0  # a longer p-time is handed to the caller as RateLimited
    penalty_resends: int = 3
    renew_margin: timedelta = timedelta(minutes=15)  # §2.2: "about 15 minutes prior"
    auth_hold: timedelta = timedelta(seconds=60)  # a refused login is not retried sooner
    captcha_hold: timedelta = timedelta(minutes=15)
    wait_after_423: float = 60.0
    wait_after_429: float = 3600.0  # §4: "Users must wait 1 hour"
    # A market order answered before its fill is read again every `fill_poll` seconds for
    # up to `fill_wait`, so its exits are set from the fill (targets, break-even).
    fill_wait: float = 2.0
    fill_poll: float = 0.1
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], datetime] = _utcnow


TUNING = Tuning()
# A token this close to its expiry is not used any more: the call might arrive after it.
RENEWAL_SLACK = timedelta(seconds=30)
_SESSION = object()  # "use the session's token" in _send


def base_url_for(environment: str) -> str:
    """The REST base for an account environment, or the TRADOVATE_API_URL override."""
    override = current_app.config.get("TRADOVATE_API_URL") if has_app_context() else None
    if override:
        return str(override).rstrip("/")
    return LIVE_URL if environment == Environment.LIVE else DEMO_URL


# --- the process-wide registry ------------------------------------------------------------


@dataclass(eq=False)
class Session:
    """One login: its token, when to renew it, and a refusal to remember for a while."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    grant: wire.TokenGrant | None = None
    renew_at: datetime | None = None
    refusal: BrokerAuthError | None = None
    refused_until: datetime | None = None
    logins: int = 0
    renewals: int = 0


class SessionRegistry:
    """Every Tradovate session, HTTP connection pool and lockout of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self._pools: dict[str, requests.Session] = {}
        self._lockouts: dict[str, tuple[datetime, str]] = {}

    def session(self, key: str) -> Session:
        with self._lock:
            return self._sessions.setdefault(key, Session())

    def pool(self, base_url: str) -> requests.Session:
        with self._lock:
            pool = self._pools.get(base_url)
            if pool is None:
                pool = self._pools[base_url] = requests.Session()
            return pool

    def lockout(self, base_url: str) -> tuple[datetime, str] | None:
        with self._lock:
            return self._lockouts.get(base_url)

    def lock_out(self, base_url: str, until: datetime, reason: str) -> None:
        with self._lock:
            held = self._lockouts.get(base_url)
            if held is None or held[0] < until:
                self._lockouts[base_url] = (until, reason)

    def clear(self) -> None:
        """Forget every session and lockout (tests; a credentials change needs no call)."""
        with self._lock:
            pools = list(self._pools.values())
            self._sessions.clear()
            self._pools.clear()
            self._lockouts.clear()
        for pool in pools:
            pool.close()


REGISTRY = SessionRegistry()


def reset() -> None:
    REGISTRY.clear()


def credentials_of(access: AccountAccess) -> wire.Credentials:
    """The account's credentials, as the services decrypted them; BrokerAuthError when absent."""
    if not access.credentials:
        raise BrokerAuthError(f"account {access.account_id} has no Tradovate credentials stored")
    return wire.Credentials.from_mapping(access.credentials)


def client_for(access: AccountAccess) -> "TradovateRest":
    """The transport for a Tradovate account (needs an app context for the config)."""
    return TradovateRest(base_url_for(access.environment), credentials_of(access))


# --- the client ---------------------------------------------------------------------------


class TradovateRest:
    """Calls to one Tradovate server with one set of credentials."""

    def __init__(
        self,
        base_url: str,
        credentials: wire.Credentials,
        *,
        registry: SessionRegistry = REGISTRY,
        tuning: Tuning | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._credentials = credentials
        self._registry = registry
        self._tuning = tuning
        self.session_key = credentials.fingerprint(self.base_url)
        self._session = registry.session(self.session_key)

    @property
    def tuning(self) -> Tuning:
        return self._tuning or TUNING  # read per call, so tests can swap it

    # Calls.

    def get(self, path: str, params: dict | None = None) -> Any:
        """A read: retried on temporary failures."""
        return self._retrying(lambda: self._send("GET", path, params=params))

    def post(self, path: str, body: dict, *, idempotent: bool = False) -> Any:
        """A command; retried on temporary failures only when sending it twice is harmless."""
        call = lambda: self._send("POST", path, body=body)  # noqa: E731
        return self._retrying(call) if idempotent else call()

    def place(self, path: str, body: dict, *, reconcile: Callable[[], Any | None]) -> Any:
        """Send an order that carries our clOrdId; never send it twice.

        After a try that failed without an answer (timeout, dropped connection, 5xx), the
        order may have arrived: `reconcile()` looks for it (an answer shaped like the
        call's, or None) before the next try. When the check itself cannot be made, the
        order is not resent and the error says so.
        """
        tuning = self.tuning
        delay = tuning.backoff
        failure: TemporaryBrokerError | None = None
        for attempt in range(1, tuning.attempts + 1):
            self._retrying(self._grant)  # a login that fails sent no order: not ambiguous
            try:
                return self._send("POST", path, body=body)
            except NotSent as exc:
                failure = exc  # no connection was made: nothing to look for
                logger.warning("Tradovate %s, try %d: %s", path, attempt, exc.message)
                tuning.sleep(delay)
                delay = min(delay * 2, tuning.backoff_cap)
                continue
            except TemporaryBrokerError as exc:
                failure = exc
            logger.warning(
                "Tradovate %s, try %d of %d: %s; checking whether the order arrived",
                path,
                attempt,
                tuning.attempts,
                failure.message,
            )
            tuning.sleep(delay)
            delay = min(delay * 2, tuning.backoff_cap)
            try:
                found = reconcile()  # its reads are retried like any read
            except BrokerError as exc:
                raise TemporaryBrokerError(
                    f"{failure.message}; whether the order reached Tradovate could not be "
                    f"checked ({exc.message}), so it was not sent again: look on Tradovate "
                    "before placing it again"
                ) from exc
            if found is not None:
                logger.info("Tradovate %s: the order had arrived; not sent again", path)
                return found
        if failure is None:  # the loop above ends only after a failed try
            raise TemporaryBrokerError(f"Tradovate {path}: the order was not sent")
        raise TemporaryBrokerError(
            f"{failure.message}; {tuning.attempts} tries failed and Tradovate holds no order "
            "with this client order id, so nothing was placed"
        ) from failure

    def sign_in(self, *, ignore_hold: bool = False) -> wire.TokenGrant:
        """The session's grant, logging in or renewing as needed.

        `ignore_hold` retries a refused login at once (the trader pressed "Test
        connection" after fixing something on Tradovate's side).
        """
        return self._grant(ignore_hold=ignore_hold)

    def access_token(self) -> str:
        return self._grant().access_token

    def md_access_token(self) -> str:
        """The market-data token; the access token when Tradovate gave none (§5.2 [U])."""
        grant = self._grant()
        return grant.md_access_token or grant.access_token

    @property
    def logins(self) -> int:
        return self._session.logins

    @property
    def renewals(self) -> int:
        return self._session.renewals

    # Tokens.

    def _grant(self, *, ignore_hold: bool = False) -> wire.TokenGrant:
        session = self._session
        with session.lock:
            now = self.tuning.clock()
            grant = session.grant
            if grant is not None and session.renew_at is not None and now < session.renew_at:
                return grant
            if grant is not None and now < grant.expires_at:
                try:
                    return self._renew(session, now)
                except RateLimited:
                    raise
                except TemporaryBrokerError as exc:
                    if now < grant.expires_at - RENEWAL_SLACK:
                        # Still valid: keep it, renew on the next call, open no new session.
                        logger.warning("Tradovate token renewal put off: %s", exc.message)
                        return grant
                except BrokerError as exc:
                    logger.warning(
                        "Tradovate token renewal refused (%s); requesting a new token", exc.message
                    )
            return self._login(session, now, ignore_hold)

    def _login(self, session: Session, now: datetime, ignore_hold: bool) -> wire.TokenGrant:
        held, until = session.refusal, session.refused_until
        if held is not None and until is not None and now < until and not ignore_hold:
            raise _again(held, (until - now).total_seconds())
        session.grant = None
        body = wire.token_request(self._credentials)
        try:
            data = self._retrying(
                lambda: self._send("POST", "auth/accesstokenrequest", body=body, auth=None)
            )
            grant = wire.parse_token(data, now)
        except BrokerAuthError as exc:
            hold = self.tuning.auth_hold
            if isinstance(exc, wire.CaptchaRequired):
                hold = max(hold, self.tuning.captcha_hold)
            session.refusal = exc
            session.refused_until = now + hold
            logger.warning("Tradovate login at %s refused: %s", self.base_url, exc.message)
            raise
        self._keep(session, grant, now)
        session.logins += 1
        session.refusal = session.refused_until = None
        logger.info(
            "Tradovate session opened at %s for %s; token valid until %s",
            self.base_url,
            grant.name or self._credentials.username,
            grant.expires_at.isoformat(),
        )
        return grant

    def _renew(self, session: Session, now: datetime) -> wire.TokenGrant:
        previous = session.grant
        if previous is None:  # _grant renews only a grant it holds
            raise BrokerAuthError("Tradovate: no session to renew; logging in again")
        data = self._send("GET", "auth/renewaccesstoken", auth=previous.access_token)
        grant = wire.parse_token(data, now, previous)
        self._keep(session, grant, now)
        session.renewals += 1
        logger.info("Tradovate token renewed; valid until %s", grant.expires_at.isoformat())
        return grant

    def _keep(self, session: Session, grant: wire.TokenGrant, now: datetime) -> None:
        redaction.remember(grant.access_token, grant.md_access_token)
        life = max(grant.expires_at - now, timedelta(0))
        session.grant = grant
        session.renew_at = grant.expires_at - min(self.tuning.renew_margin, life / 4)

    def forget_token(self, token: str) -> None:
        """Tradovate stopped accepting `token` (revoked, or a third session closed ours),
        here or on a WebSocket: the next call logs in again."""
        with self._session.lock:
            grant = self._session.grant
            if grant is not None and grant.access_token == token:
                self._session.grant = None

    # One request.

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: dict | None = None,
        params: dict | None = None,
        auth: Any = _SESSION,
    ) -> Any:
        """One logical call: penalty tickets and one re-login on 401 handled, no retries.

        `auth` is the session's token by default, else a token string, or None for none.
        """
        tuning = self.tuning
        payload = body
        relogged = False
        resends = 0
        while True:
            self._check_lockout(path)
            headers = {"Accept": "application/json"}
            bearer = self._grant().access_token if auth is _SESSION else auth
            if bearer:
                headers["Authorization"] = f"Bearer {bearer}"
            response = self._exchange(method, path, payload, params, headers)
            if response.status_code == 401 and auth is _SESSION and not relogged:
                logger.info("Tradovate refused the token on %s (401); logging in again", path)
                self.forget_token(bearer)
                relogged = True
                continue
            data = self._decode(response, path)
            ticket = wire.penalty_of(data)
            if ticket is None:
                return data
            if ticket.captcha:
                raise wire.CaptchaRequired(CAPTCHA_MESSAGE)
            if ticket.wait > tuning.max_penalty_wait or resends >= tuning.penalty_resends:
                raise RateLimited(
                    f"Tradovate asks DeskPilot to wait {ticket.wait:g} s before calling {path} "
                    "again (penalty ticket); nothing was sent",
                    ticket.wait,
                )
            logger.info("Tradovate penalty ticket on %s: waiting %g s", path, ticket.wait)
            tuning.sleep(ticket.wait)
            resends += 1
            if method == "POST" and ticket.ticket:
                payload = {**(payload or {}), "p-ticket": ticket.ticket}

    def _exchange(self, method, path, payload, params, headers) -> requests.Response:
        tuning = self.tuning
        data = None
        if payload is not None:
            data = json.dumps(payload, default=_json_default)
            headers["Content-Type"] = "application/json"
        try:
            return self._registry.pool(self.base_url).request(
                method,
                f"{self.base_url}/{path}",
                data=data,
                params=params,
                headers=headers,
                timeout=(tuning.connect_timeout, tuning.read_timeout),
            )
        except requests.ConnectTimeout as exc:
            raise NotSent(f"could not reach Tradovate for {path} (ConnectTimeout)") from exc
        except requests.Timeout as exc:
            raise TemporaryBrokerError(
                f"Tradovate did not answer {path} in time ({type(exc).__name__})"
            ) from exc
        except requests.ConnectionError as exc:
            kind = NotSent if _never_connected(exc) else TemporaryBrokerError
            raise kind(f"could not reach Tradovate for {path} ({type(exc).__name__})") from exc
        except requests.RequestException as exc:
            raise BrokerError(
                f"the call to Tradovate {path} failed ({type(exc).__name__})"
            ) from exc

    def _decode(self, response: requests.Response, path: str) -> Any:
        status = response.status_code
        if status in (423, 429):
            self._lock_out(status, response, path)
        if status >= 500:
            raise TemporaryBrokerError(f"Tradovate answered HTTP {status} to {path}")
        if status == 401:
            raise BrokerAuthError(
                f"Tradovate refused {path} with 401 Unauthorized even with a fresh token. On a "
                "live account this is how Tradovate refuses a device id it has not approved; "
                "otherwise the login lacks the permission"
            )
        if status == 404:
            raise NotFoundAtTradovate(f"Tradovate has no {path} ({_excerpt(response)})")
        if status >= 400:
            raise BrokerError(f"Tradovate refused {path} (HTTP {status}): {_excerpt(response)}")
        text = response.text
        if not text.strip():
            return None
        try:
            return json.loads(text, parse_float=Decimal)
        except ValueError as exc:
            raise BrokerError(f"Tradovate answered {path} with something that is not JSON") from exc

    # Lockouts (423/429).

    def _lock_out(self, status: int, response: requests.Response, path: str) -> None:
        tuning = self.tuning
        wait = _retry_after(response) or (
            tuning.wait_after_429 if status == 429 else tuning.wait_after_423
        )
        if status == 429:
            reason = (
                "Tradovate has locked this IP out of its API for too many requests (HTTP 429); "
                "any request during the lock restarts it, so DeskPilot sends nothing to "
                f"Tradovate for {wait:g} s"
            )
        else:
            reason = (
                "Tradovate warns that this IP is about to be locked out for too many requests "
                f"(HTTP 423); DeskPilot pauses its Tradovate calls for {wait:g} s"
            )
        self._registry.lock_out(self.base_url, tuning.clock() + timedelta(seconds=wait), reason)
        logger.warning("%s (on %s)", reason, path)
        raise RateLimited(reason, wait)

    def _check_lockout(self, path: str) -> None:
        held = self._registry.lockout(self.base_url)
        if held is None:
            return
        until, reason = held
        left = (until - self.tuning.clock()).total_seconds()
        if left > 0:
            raise RateLimited(f"{reason}; {left:.0f} s left, {path} was not sent", left)

    # Retries.

    def _retrying(self, call: Callable[[], Any]) -> Any:
        tuning = self.tuning
        delay = tuning.backoff
        for attempt in range(1, tuning.attempts + 1):
            try:
                return call()
            except TemporaryBrokerError as exc:
                if attempt == tuning.attempts:
                    raise
                logger.warning(
                    "Tradovate: %s; try %d of %d in %.2f s",
                    exc.message,
                    attempt + 1,
                    tuning.attempts,
                    delay,
                )
                tuning.sleep(delay)
                delay = min(delay * 2, tuning.backoff_cap)
        raise AssertionError("unreachable")


class NotSent(TemporaryBrokerError):
    """No connection to Tradovate was made, so the request cannot have arrived."""


def _never_connected(exc: requests.ConnectionError) -> bool:
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


class NotFoundAtTradovate(BrokerError):
    """HTTP 404: Tradovate has no such entity (a contract name it does not list)."""


def _again(held: BrokerAuthError, left: float) -> BrokerAuthError:
    """A remembered login refusal, raised again without asking Tradovate."""
    message = f"{held.message} (not retried for another {left:.0f} s)"
    if isinstance(held, wire.LoginRefused):
        return wire.LoginRefused(message, held.tradovate_text)
    if isinstance(held, wire.CaptchaRequired):
        return wire.CaptchaRequired(message)
    return BrokerAuthError(message)


def _retry_after(response: requests.Response) -> float | None:
    try:
        value = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return value if value > 0 else None


def _excerpt(response: requests.Response) -> str:
    text = " ".join((response.text or "").split())
    return (text[:200] + "…") if len(text) > 200 else text or response.reason or "no details"


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return wire.price_out(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
