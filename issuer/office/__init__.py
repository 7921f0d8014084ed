"""The office: staff and their scopes, the review of declared records, the
office's queries, background jobs, teachers' accounts and passwords."""
