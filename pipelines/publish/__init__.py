"""Publishing: the week's page and email, the published outputs and their ledger."""
