"""What the database layer does for everyone; see ARCHITECTURE.md ("Explicit transactions")."""
from app.db.transaction import TransactionFailed, transaction

__all__ = ["TransactionFailed", "transaction"]
