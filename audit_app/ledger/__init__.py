"""The evidence ledger: canonical JSON, an RFC 6962 Merkle log and C2SP signed checkpoints.

``standalone.py`` is deliberately self-contained (standard library + ``cryptography``): auditors run it
on an exported bundle without Django, a database or the rest of Glassbox.
"""
