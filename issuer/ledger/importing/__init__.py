"""Import of the bureau's files: roster, approved projects, training records.

A file with any bad row is refused whole with a report naming row, column
and reason, and nothing of it stored. The roster and projects are validated
whole before anything is written; the records, up to 500,000 rows, are
read, validated and written a chunk at a time inside a savepoint that a
refusal rolls back (records.py).
"""
