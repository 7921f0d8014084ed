from tests.certs.conftest import bureau, keyed  # noqa: F401  (the same small bureau)
