"""Fuzzing: hypothesis SQL fuzzing (``test_sql_fuzz.py``) and atheris harnesses for the SQL
entry point and every format decoder (``targets.py``), with kept corpora in ``corpus/<target>/``
replayed by ``test_corpus.py``; ``python -m tests.fuzz.<target>`` runs one harness long."""
