"""Webhook tokens never reach the log."""

import logging

from app.redaction import RedactWebhookTokens, redact


def test_redact_hides_the_token_in_a_request_line():
    line = '127.0.0.1 - - "POST /webhook/mlqGojH8GD2DpDvbnKvITDgosSkwoZ3w HTTP/1.1" 200 -'
    assert redact(line) == '127.0.0.1 - - "POST /webhook/<token> HTTP/1.1" 200 -'


def test_filter_rewrites_formatted_records():
    record = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        1,
        '"%s %s" %s',
        ("POST", "/webhook/abc123?x=1", 200),
        None,
    )
    RedactWebhookTokens().filter(record)
    assert record.getMessage() == '"POST /webhook/<token>?x=1" 200'
