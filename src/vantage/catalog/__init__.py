"""The catalog: typed models, engines for SQLite/PostgreSQL, and Alembic migrations."""
