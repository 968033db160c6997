"""Alerts: rules matched in-process (alerts.matcher), the ledger, the outbox and email delivery."""
