"""The evidence ledger: canonical JSON, an RFC 6962 Merkle log and C2SP signed checkpoints.

``verifier.py`` is deliberately standalone (standard library + ``cryptography``): auditors run it
on an exported bundle without Django, a database or the rest of Glassbox.
"""
