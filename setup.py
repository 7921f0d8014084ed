"""Only what pyproject.toml cannot say: the top-level templates/ folder ships
as the package `ecert_templates`, so an installed wheel has the certificate's
and the pages' templates (verifier.resources finds them by that name)."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["issuer", "issuer.*", "verifier", "verifier.*"]), "ecert_templates"],
    package_dir={"ecert_templates": "templates"},
)
