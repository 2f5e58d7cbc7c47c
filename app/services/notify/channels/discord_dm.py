"""Discord DMs through discord.py's HTTP client (never the gateway), sent on one asyncio
loop thread per process that the delivery job's threads wait on."""

import asyncio
import atexit
import contextlib
import hashlib
import logging
import os
import threading
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC

import aiohttp
import discord
from discord.http import HTTPClient, Route, handle_message_parameters

from app.domain.vocabulary import NotificationChannel, Tone
from app.services.notify.channels.base import DeliveryError, Message, NotifySettings

logger = logging.getLogger(__name__)

COLOURS = {
    Tone.GOOD: discord.Colour.green(),
    Tone.BAD: discord.Colour.red(),
    Tone.WARNING: discord.Colour.gold(),
    Tone.INFO: discord.Colour.blurple(),
}
# Discord's embed limits (characters): https://discord.com/developers/docs/resources/message
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
EMBED_MAX = 6000
INLINE_MAX = 24  # a field this short sits beside others, three to a row
FOOTER = "DeskPilot"
BLANK = "\u200b"  # Discord refuses an empty field name or value
GRACE_SECONDS = 1.0  # the caller waits this much past the loop's own deadline

CANNOT_DM = 50007
UNKNOWN_USER = {10013, 50033}  # "Unknown User", "Invalid Recipient(s)"
TOKEN_REFUSED = "Discord refused the bot token (401): check DISCORD_BOT_TOKEN on the server."  # nosec B105 # words, not a token
DMS_CLOSED = (
    "Discord refused the DM: the bot shares no server with you, or your DMs from server "
    "members are off — join the bot's server / allow DMs, then send a test."
)
NO_SUCH_USER = "Discord knows no user with that id: check your Discord user id in Settings."


class DiscordChannel:
    """The trader's Discord DMs; every instance shares the process's one loop and login."""

    name = NotificationChannel.DISCORD

    def unready(self, settings: NotifySettings) -> str | None:
        if not settings.discord_bot_token:
            return "No bot token: set DISCORD_BOT_TOKEN on the server or a bot token in Settings."
        if not settings.discord_user_id:
            return "Link your Discord account in Settings to get DMs."
        if not settings.discord_user_id.isdigit():
            return "Your Discord user id is a number: link your account again in Settings."
        if not settings.discord_dm_enabled:
            return "Discord DMs are switched off in Settings."
        return None

    def send(self, message: Message, settings: NotifySettings) -> None:
        reason = self.unready(settings)
        if reason is not None:
            raise DeliveryError(reason, permanent=True)
        _COURIER.deliver(
            settings, int(settings.discord_user_id), render_embed(message), _nonce(message)
        )


def render_embed(message: Message) -> discord.Embed:
    """The message as one embed within Discord's limits. The text comes whole before the
    fields (it is complete on its own); fields that no longer fit the 6000 are left out."""
    occurred = message.occurred_at
    if occurred.tzinfo is None:  # our timestamps are UTC; a naive one lost its zone in SQLite
        occurred = occurred.replace(tzinfo=UTC)
    title = _clip(message.title, TITLE_MAX)
    room = EMBED_MAX - len(title) - len(FOOTER)
    description = _clip(message.text, min(DESCRIPTION_MAX, room))
    room -= len(description)
    embed = discord.Embed(
        title=title or None,
        description=description or None,
        colour=COLOURS[message.tone],
        timestamp=occurred,
    )
    embed.set_footer(text=FOOTER)
    for name, value in message.fields[:FIELDS_MAX]:
        name = _clip(name, FIELD_NAME_MAX) or BLANK
        value = _clip(value, min(FIELD_VALUE_MAX, room - len(name))) or BLANK
        if len(name) + len(value) > room:
            break
        inline = len(name) <= INLINE_MAX and len(value) <= INLINE_MAX and "\n" not in value
        embed.add_field(name=name, value=value, inline=inline)
        room -= len(name) + len(value)
    return embed


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…" if limit > 0 else ""


def _nonce(message: Message) -> str:
    """The same notification sent again within minutes — a retry after a timeout whose DM
    did land — is answered by Discord with the first message, not a second one
    (`enforce_nonce`); 25 characters is Discord's limit."""
    facts = (message.event_type, message.title, message.text, message.occurred_at, message.fields)
    return hashlib.sha256(repr(facts).encode()).hexdigest()[:25]


@dataclass
class _Attempt:
    """One send's budget, seen by the aiohttp trace hook through `_attempt`."""

    deadline: float  # on the loop's clock
    abort: asyncio.Event = field(default_factory=asyncio.Event)
    status: int | None = None  # the last 429 or 5xx seen
    retry_after: float | None = None
    global_limit: bool = False


_attempt: ContextVar[_Attempt | None] = ContextVar("discord_attempt", default=None)


async def _on_request_end(session, context, params: aiohttp.TraceRequestEndParams) -> None:
    """Abort a send that hit a server error (the outbox backs off and retries it, instead
    of discord.py sleeping 1 s, 3 s, 5 s… on the delivery thread's time), or a 429 whose
    wait would run past the deadline; a shorter 429 discord.py sleeps out and retries."""
    attempt = _attempt.get()
    status = params.response.status
    if attempt is None or (status != 429 and status < 500):
        return
    attempt.status = status
    if status == 429:
        attempt.retry_after, attempt.global_limit = await _rate_limit(params.response)
        if asyncio.get_running_loop().time() + attempt.retry_after <= attempt.deadline:
            return
    attempt.abort.set()


async def _rate_limit(response: aiohttp.ClientResponse) -> tuple[float, bool]:
    """(retry_after, global) from a 429's body, which discord.py sleeps on too (the body is
    cached, so its own read gets the same bytes); Retry-After when the body is not JSON."""
    try:
        body = await response.json(content_type=None)
        return float(body["retry_after"]), bool(body.get("global"))
    except (ValueError, KeyError, TypeError):
        return float(response.headers.get("Retry-After", "1")), False


def _trace() -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(_on_request_end)
    return trace


@dataclass
class _Bot:
    """A logged-in HTTP client for one API base and token, and the DM channels it opened
    (one POST per DM after the first)."""

    key: tuple[str, str] = field(repr=False)
    http: HTTPClient | None
    dm_channels: dict[int, int] = field(default_factory=dict)


class _Courier:
    """The process's one event loop thread and the bot login that lives on it: aiohttp
    sessions belong to the loop that made them, so every Discord call runs here."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0
        self._bot: _Bot | None = None  # touched on the loop thread only
        self._login = asyncio.Lock()

    def deliver(
        self, settings: NotifySettings, user_id: int, embed: discord.Embed, nonce: str
    ) -> None:
        future = asyncio.run_coroutine_threadsafe(
            self._deliver(settings, user_id, embed, nonce), self._running_loop()
        )
        try:
            future.result(settings.timeout_seconds + GRACE_SECONDS)
        except TimeoutError as exc:
            future.cancel()
            raise DeliveryError(
                f"Discord did not answer within {settings.timeout_seconds:g} s."
            ) from exc

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():  # a fork keeps no threads
                self._loop = asyncio.new_event_loop()
                self._pid = os.getpid()
                self._bot = None
                self._login = asyncio.Lock()
                threading.Thread(
                    target=self._loop.run_forever, name="discord-dm", daemon=True
                ).start()
            return self._loop

    async def _deliver(
        self, settings: NotifySettings, user_id: int, embed: discord.Embed, nonce: str
    ) -> None:
        timeout = settings.timeout_seconds
        attempt = _Attempt(deadline=asyncio.get_running_loop().time() + timeout)
        _attempt.set(attempt)  # the task below copies this context, and so its trace hooks
        work = asyncio.create_task(self._post(settings, user_id, embed, nonce))
        aborted = asyncio.create_task(attempt.abort.wait())
        try:
            done, _ = await asyncio.wait(
                {work, aborted}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:  # also when the caller gave up on us: no DM may go out after that
            aborted.cancel()
            if not work.done():
                work.cancel()
                work.add_done_callback(_settled)  # its end is of no interest once abandoned
        if work in done:
            return work.result()
        if attempt.global_limit:
            # discord.py shuts its global-limit gate while it sleeps and opens it after:
            # cancelled mid-sleep, this client would wait on it for ever.
            await self._forget()
        raise _gave_up(attempt, timeout)

    async def _post(
        self, settings: NotifySettings, user_id: int, embed: discord.Embed, nonce: str
    ) -> None:
        try:
            bot = await self._session(settings)
            channel_id = bot.dm_channels.get(user_id)
            if channel_id is None:
                channel = await bot.http.start_private_message(user_id)
                channel_id = bot.dm_channels[user_id] = int(channel["id"])
            with handle_message_parameters(embed=embed, nonce=nonce) as params:
                await bot.http.send_message(channel_id, params=params)
        except discord.LoginFailure as exc:
            raise DeliveryError(TOKEN_REFUSED, permanent=True) from exc
        except discord.HTTPException as exc:
            if exc.status == 401:
                await self._forget()
            elif exc.status == 404 and self._bot is not None:
                self._bot.dm_channels.pop(user_id, None)  # open a fresh DM next time
            raise _refused(exc, _attempt.get()) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise DeliveryError(f"Could not reach Discord ({type(exc).__name__}).") from exc

    async def _session(self, settings: NotifySettings) -> _Bot:
        """The client logged in with this token at this base: once, and again only when
        either changes (or the last one was dropped)."""
        # Route.BASE is a class attribute every Route reads when it is built. Every route
        # of this process is built here, on this one thread, for the one DISCORD_API_BASE
        # the process has (tests move it between tests, never during a send), so setting
        # it before each send cannot send another request elsewhere.
        Route.BASE = settings.discord_api_base.rstrip("/")
        key = (Route.BASE, settings.discord_bot_token)
        async with self._login:
            bot = self._bot
            if bot is not None and bot.key == key and bot.http is not None:
                return bot
            await self._forget()
            http = HTTPClient(asyncio.get_running_loop(), http_trace=_trace())
            try:
                me = await http.static_login(settings.discord_bot_token)
            except BaseException:
                await http.close()
                raise
            logger.info("Discord: logged in as bot %s (%s)", me.get("username"), me.get("id"))
            channels = bot.dm_channels if bot is not None and bot.key == key else {}
            self._bot = _Bot(key, http, channels)
            return self._bot

    def close(self) -> None:
        """Log out at exit, so that aiohttp has no unclosed session to complain of."""
        if self._loop is not None and self._pid == os.getpid() and self._loop.is_running():
            with contextlib.suppress(TimeoutError):
                asyncio.run_coroutine_threadsafe(self._forget(), self._loop).result(GRACE_SECONDS)

    async def _forget(self) -> None:
        """Drop the login (the DM channels stay known: they outlive it)."""
        if self._bot is not None and self._bot.http is not None:
            http, self._bot.http = self._bot.http, None
            await http.close()


def _refused(exc: discord.HTTPException, attempt: _Attempt | None) -> DeliveryError:
    """Discord's answer in the trader's words, and whether trying again can help."""
    if exc.status == 401:
        return DeliveryError(TOKEN_REFUSED, permanent=True)
    if exc.status == 403 and exc.code == CANNOT_DM:
        return DeliveryError(DMS_CLOSED, permanent=True)
    if exc.code in UNKNOWN_USER:
        return DeliveryError(NO_SUCH_USER, permanent=True)
    if exc.status == 429:  # discord.py gave up after five, or took it for a Cloudflare ban
        retry_after = attempt.retry_after if attempt is not None else None
        return DeliveryError("Discord kept rate-limiting the bot.", retry_after=retry_after)
    if exc.status >= 500 or exc.status == 404:
        return DeliveryError(f"Discord answered {exc.status}; it will be tried again.")
    return DeliveryError(
        f"Discord refused the message ({exc.status}, code {exc.code}: {exc.text}).",
        permanent=True,
    )


def _gave_up(attempt: _Attempt, timeout: float) -> DeliveryError:
    if attempt.status == 429:
        return DeliveryError(
            f"Discord is rate-limiting the bot for {attempt.retry_after:g} s.",
            retry_after=attempt.retry_after,
        )
    if attempt.status is not None:
        return DeliveryError(f"Discord answered {attempt.status}; it will be tried again.")
    return DeliveryError(f"Discord did not answer within {timeout:g} s.")


def _settled(task: asyncio.Task) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it as never retrieved


_COURIER = _Courier()
atexit.register(_COURIER.close)
