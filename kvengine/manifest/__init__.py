"""The manifest: which SSTs and WAL objects make up the database, and who may write it."""
