"""An SMTP sink on 127.0.0.1 (aiosmtpd) that keeps every message it accepts.

Given a certificate (self-signed, made at test time) it offers STARTTLS, or with
`implicit_tls` speaks TLS from the first byte; without one it speaks plain SMTP only. It
checks AUTH against `credentials` (offered only under TLS, as real servers do), and
refuses on demand: `refuse_recipient(address, "550 …")`, `refuse_data = "451 …"`.
Tests read `messages` (`Received`: envelope sender and recipients, the parsed message,
whether it came over TLS, who logged in) and `certificate.cert_file`, the CA file a
client must trust (SMTP_CA_FILE).
The `smtp_sink` fixture starts one with STARTTLS and AUTH for SMTP_USER / SMTP_PASSWORD.
"""

import ipaddress
import logging
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SMTP_USER = "desk@example.com"
SMTP_PASSWORD = "smtp-pa55-word-7c1e"

# aiosmtpd logs every line it reads (and warns of its own deprecations): that chatter is
# the fake's, not DeskPilot's.
logging.getLogger("mail.log").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Certificate:
    cert_file: Path
    key_file: Path


def make_certificate(folder: Path) -> Certificate:
    """A self-signed certificate for localhost and 127.0.0.1, its own CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "DeskPilot test SMTP sink")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    files = Certificate(folder / "smtp-sink.pem", folder / "smtp-sink.key")
    files.cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    files.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool
    login: str | None


class _Controller(Controller):
    def _trigger_server(self) -> None:
        # Bound to port 0: learn the port the system gave before poking the server.
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpSink:
    def __init__(
        self,
        certificate: Certificate | None,
        *,
        credentials: tuple[str, str] | None = None,
        implicit_tls: bool = False,
    ) -> None:
        self.certificate = certificate
        self.credentials = credentials
        self.implicit_tls = implicit_tls
        self.messages: list[Received] = []
        self.refused: dict[str, str] = {}
        self.refuse_data: str | None = None
        self.failed_logins = 0
        self.port = 0
        self._controller: _Controller | None = None

    def start(self) -> "SmtpSink":
        tls = {}
        if self.certificate is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.certificate.cert_file, self.certificate.key_file)
            tls = {"ssl_context" if self.implicit_tls else "tls_context": context}
        self._controller = _Controller(
            self,
            hostname="127.0.0.1",
            port=0,
            server_hostname="localhost",
            authenticator=self._authenticate,
            # aiosmtpd sees TLS only once STARTTLS ran; an implicit-TLS session is TLS too.
            auth_require_tls=not self.implicit_tls,
            **tls,
        )
        self._controller.start()
        self.port = self._controller.port
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()

    def refuse_recipient(self, address: str, reply: str) -> None:
        self.refused[address] = reply

    # --- aiosmtpd's hooks -----------------------------------------------------------------

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and self.credentials is not None:
            login, password = auth_data.login.decode(), auth_data.password.decode()
            if (login, password) == self.credentials:
                return AuthResult(success=True, auth_data=login)
        self.failed_logins += 1
        return AuthResult(success=False, handled=False)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address in self.refused:
            return self.refused[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.refuse_data:
            return self.refuse_data
        self.messages.append(
            Received(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                message=message_from_bytes(envelope.original_content, policy=policy.default),
                tls=server.transport.get_extra_info("ssl_object") is not None,
                login=session.auth_data if session.authenticated else None,
            )
        )
        return "250 Message accepted for delivery"


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory) -> Certificate:
    return make_certificate(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
def smtp_sink(tls_certificate):
    """A running sink offering STARTTLS and AUTH for SMTP_USER / SMTP_PASSWORD."""
    sink = SmtpSink(tls_certificate, credentials=(SMTP_USER, SMTP_PASSWORD)).start()
    yield sink
    sink.stop()
