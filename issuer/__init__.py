"""The issuing side of teacher-ecert: roster, records, credits, certificates."""
