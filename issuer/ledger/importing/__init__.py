"""Import of the bureau's files: roster, approved projects, training records.

Every row is validated before anything is written; a file with any bad row
is refused whole with a report naming row, column and reason.
"""
