"""Database plumbing: declarative base, engine and unit of work, embedded server, migrations."""
