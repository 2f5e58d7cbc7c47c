"""Backups and restores of the whole database from the command line (DESIGN §5.6)."""
