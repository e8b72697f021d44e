"""Ground-truth verifiers, one module per task: ``expected(market)`` and ``check(text, answer)``.

They are loaded by file path (``pytest_realfin.verify``), not imported as a package; see
tasks/README.md.
"""
