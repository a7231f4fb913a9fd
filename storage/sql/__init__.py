"""The catalog in SQL (SQLite or PostgreSQL): a module per group of tables, schema, migrations."""
