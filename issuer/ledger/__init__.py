"""The ledger: what teachers did and what it is worth. Imports (roster, projects,
records), the credit engine, and each teacher's one number per cycle."""
