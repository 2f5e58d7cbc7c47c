"""Notifications (DESIGN §4): events become outbox rows, filtered by the trader's
preferences; a job delivers them through the channels (Discord, e-mail, SMS, an outgoing
webhook) with retries, so a notification is never lost and never delays trading."""
