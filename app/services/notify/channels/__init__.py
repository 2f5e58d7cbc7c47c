"""The delivery channels, one module each, behind the one interface of base.py."""
