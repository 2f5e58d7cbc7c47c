"""Fakes of outside systems on 127.0.0.1, each speaking the real wire format."""
