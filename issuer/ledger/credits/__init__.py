"""Credit sheets: the engine (pure) and the ledger (reads the database)."""
