"""Subcommands of `keepline` beyond `serve`: each registers its parser and runs one job."""
