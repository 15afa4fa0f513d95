"""The store contract moved to tests/persistence/test_store_contract.py.

This module only keeps ``from tests.test_store_contract import connect`` working for
tests/test_whatsapp_identity_store.py; delete it once that import names the new path.
"""

from __future__ import annotations

from tests.persistence.test_store_contract import connect

__all__ = ["connect"]
