"""Accounts: users, log-in sessions, API tokens, log-in throttling, role bindings, audit log proofs."""
