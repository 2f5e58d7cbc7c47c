"""Secrets never reach the log: webhook tokens in request lines, and every secret the
process knows, in messages, arguments and tracebacks, from any logger."""

import logging

import pytest

from app import redaction
from app.redaction import redact, remember


@pytest.fixture(autouse=True)
def installed():
    redaction.install()


def test_redact_hides_the_token_in_a_request_line():
    line = '127.0.0.1 - - "POST /webhook/mlqGojH8GD2DpDvbnKvITDgosSkwoZ3w HTTP/1.1" 200 -'
    assert redact(line) == '127.0.0.1 - - "POST /webhook/<token> HTTP/1.1" 200 -'


def test_a_known_secret_is_masked_in_any_logger_s_records(caplog):
    remember("s3cret-Bot-Token.xyz")
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("urllib3.connectionpool").debug(
            'GET /quota/%s HTTP/1.1" 200', "s3cret-Bot-Token.xyz"
        )
    [record] = caplog.records
    assert record.getMessage() == 'GET /quota/*** HTTP/1.1" 200'


def test_request_lines_are_redacted_through_their_arguments(caplog):
    with caplog.at_level(logging.INFO):
        logging.getLogger("gunicorn.access").info('"%s %s" %s', "POST", "/webhook/abc123?x=1", 200)
    assert caplog.records[0].getMessage() == '"POST /webhook/<token>?x=1" 200'


def test_a_traceback_that_quotes_a_secret_is_masked(caplog):
    remember("hunter2-smtp-pass")
    with caplog.at_level(logging.ERROR):
        try:
            raise RuntimeError("login failed for password hunter2-smtp-pass")
        except RuntimeError:
            logging.getLogger("app.test").exception("delivery failed")
    text = caplog.text
    assert "hunter2-smtp-pass" not in text and "password ***" in text


def test_the_longer_secret_is_masked_whole_and_short_values_are_left():
    remember("abcdefgh", "abcdefgh-and-more", "2")
    assert redact("x abcdefgh-and-more y abcdefgh z 2") == "x *** y *** z 2"
