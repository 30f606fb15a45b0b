"""The manifest: which SSTs and WAL objects make up the database, and who may write it.

``model`` holds the contents and their invariants, ``codec`` the bytes
(docs/formats/manifest.md), ``store`` the versions and fencing on the object store.
"""
