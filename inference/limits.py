"""The meaningful range of each number a request carries; the engine's check and the submit form share them."""

from __future__ import annotations

# Above 2 Magistral's sampling is noise; the model card recommends 0.7.
TEMPERATURE_MAX = 2.0
# top_p is a probability mass in (0, 1]: at 0 nothing could be sampled.
TOP_P_MAX = 1.0
# The seed is stored as JSON evidence; 2^53 - 1 is the largest integer that every JSON reader (and the
# RFC 8785 canonical form the ledger hashes) represents exactly.
SEED_MAX = 2**53 - 1
