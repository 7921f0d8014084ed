"""Public verifier of teacher continuing-education certificates.

Deployable alone: it holds only public keys and the published rules
profiles, and never imports the issuer. Formats shared with the issuer
(certificate number, ID masking, rules profiles) live here, and the issuer
imports them from here.
"""
